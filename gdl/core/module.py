"""The one layer interface: :class:`EquivariantModule`, its registry, and the blueprint.

Every gdl layer is a ``torch.nn.Module`` that also states

* ``in_type`` / ``out_type``: the :class:`~gdl.core.FieldType` of its input
  and output, over one common group G (``out_type`` trivial ⇒ invariant);
* ``example(generator)``: a small instance and valid inputs, which the
  registry sweep (``tests/test_registry.py``), the docs and users run;
* ``equivariance_tolerance``: ``None`` for exact symmetries, or the declared
  error bound of an approximate one (interpolated rotations, sampled
  nonlinearities), which the sweep then enforces instead of the exact bound.

Subclasses register themselves on definition; :func:`registry` lists them.
Building blocks that only make sense inside a larger layer opt out with
``class Foo(EquivariantModule, register=False)``; the sweep then requires them
to appear inside some registered example, so nothing escapes measurement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from .field import FieldType, TrivialField
from .group import Group, common_subgroup

__all__ = ["ACTIVATIONS", "resolve_activation", "EquivariantModule", "SizeDependentTypes", "registry", "Pointwise", "InvariantLinear",
           "Blueprint", "seeded"]

_REGISTRY: dict[str, type["EquivariantModule"]] = {}


def registry() -> dict[str, type["EquivariantModule"]]:
    """Every registered layer class, keyed by ``module.QualifiedName`` (sorted).

    Only classes whose modules have been imported are listed; the registry
    sweep imports every ``gdl`` module first.
    """
    return dict(sorted(_REGISTRY.items()))


@contextlib.contextmanager
def seeded(generator: torch.Generator | None) -> Iterator[None]:
    """Run a block (e.g. parameter initialisation) with torch's global RNG seeded from ``generator``.

    The global RNG state is restored afterwards, so ``example()`` calls are
    reproducible without disturbing the caller's randomness.
    """
    with torch.random.fork_rng(devices=[]):
        if generator is not None:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        yield


class EquivariantModule(nn.Module):
    """A layer f that commutes with a group action: f(ρ_in(g) x) = ρ_out(g) f(x).

    Subclasses set ``self.in_type`` and ``self.out_type`` in ``__init__`` and
    implement ``forward`` and the classmethod :meth:`example`.
    """

    in_type: FieldType
    out_type: FieldType
    #: ``None`` for an exact symmetry; else the max abs error the layer promises
    #: (float or ``{torch.float32: ..., torch.float64: ...}``)
    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._registered = register
        if register:
            _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls

    @property
    def group(self) -> Group:
        """The group G the layer respects (the group of both its field types)."""
        return self.in_type.group

    @property
    def is_invariant(self) -> bool:
        """Whether the output is acted on trivially (f(g·x) = f(x))."""
        return isinstance(self.out_type, TrivialField)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EquivariantModule", tuple]:
        """A small instance and a tuple of valid positional inputs for it."""
        raise NotImplementedError(f"{cls.__qualname__} does not implement example(); every registered layer must")

    def check_types(self) -> None:
        """Raise if ``in_type`` and ``out_type`` are missing or live on different groups."""
        for name in ("in_type", "out_type"):
            if not isinstance(getattr(self, name, None), FieldType):
                raise TypeError(f"{type(self).__name__}.{name} must be a FieldType, got {getattr(self, name, None)!r}")
        if self.in_type.group != self.out_type.group:
            raise TypeError(f"{type(self).__name__}: in_type acts by {self.in_type.group!r} "
                            f"but out_type by {self.out_type.group!r}; they must share one group")

    def extra_repr(self) -> str:
        return f"in_type={self.in_type!r}, out_type={self.out_type!r}"


class SizeDependentTypes:
    """Mixin for layers that run on any number N of nodes or points, whose field types (over S_N) depend on N.

    The layer defines ``field_types(N) -> (in_type, out_type)`` and stores N in the attribute named by
    ``size_attribute`` (``None``: any N). ``in_type``/``out_type`` are then ``field_types(N)`` for the stored N, and
    asking for them without one raises a ``TypeError`` that says how to get them. Put the mixin before
    :class:`EquivariantModule` among the bases.
    """

    size_attribute: ClassVar[str] = "num_nodes"
    #: what N counts, for the error message
    size_noun: ClassVar[str] = "nodes"

    def field_types(self, size: int) -> tuple[FieldType, FieldType]:
        """``(in_type, out_type)`` for inputs of ``size`` nodes or points (every subclass defines it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define field_types(N)")

    def _types(self) -> tuple[FieldType, FieldType]:
        size = getattr(self, self.size_attribute, None)
        if size is None:
            raise TypeError(f"this {type(self).__name__} runs on any number of {self.size_noun}, so its field types "
                            f"depend on that number N: build it with {self.size_attribute}=N or use "
                            f"layer.field_types(N)")
        return self.field_types(size)

    @property
    def in_type(self) -> FieldType:
        return self._types()[0]

    @property
    def out_type(self) -> FieldType:
        return self._types()[1]


#: entrywise nonlinearities known by name (for :class:`Pointwise` and every layer that takes an ``activation``)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "gelu": nn.functional.gelu, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "elu": nn.functional.elu, "silu": nn.functional.silu,
}


def resolve_activation(activation: str | Callable[[torch.Tensor], torch.Tensor], choices: tuple[str, ...] | None = None,
                       allow_callable: bool = True, name: str = "activation") -> tuple[str, Callable]:
    """``(name, function)`` for an activation given by name (one of ``choices``, default all of :data:`ACTIVATIONS`)
    or, when ``allow_callable``, as a callable acting entrywise (its name is its ``__name__``).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        TypeError: neither a name nor (when allowed) a callable.
    """
    known = tuple(sorted(choices if choices is not None else ACTIVATIONS))
    if isinstance(activation, str):
        if activation not in known:
            extra = " or a callable" if allow_callable else ""
            raise ValueError(f"unknown {name} {activation!r}; expected one of {list(known)}{extra}")
        return activation, ACTIVATIONS[activation]
    if allow_callable and callable(activation):
        return getattr(activation, "__name__", "custom"), activation
    raise TypeError(f"{name} must be a name{' or a callable' if allow_callable else ''}, got {type(activation).__name__}")


class Pointwise(EquivariantModule, register=False):
    """A pointwise nonlinearity σ applied entrywise: y = σ(x).

    σ commutes with any action that only moves entries around (shifts,
    permutations, regular representations) and with the trivial action, so it
    is equivariant for field types with ``supports_pointwise``; for others
    (vectors, irreps) it is not, and construction raises ``TypeError``.

    Args:
        field: the field type of input and output.
        activation: ``"relu"``, ``"gelu"``, ``"tanh"``, ``"sigmoid"``, ``"elu"``,
            ``"silu"`` or a callable acting entrywise.
    """

    def __init__(self, field: FieldType, activation: str | Callable[[torch.Tensor], torch.Tensor] = "relu"):
        super().__init__()
        if not field.supports_pointwise:
            raise TypeError(f"a pointwise nonlinearity is not equivariant on {field!r}: its group mixes entries; "
                            "use a gated or norm nonlinearity for such fields")
        self.activation_name, self.activation = resolve_activation(activation)
        self.in_type = self.out_type = field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.activation(x)

    def extra_repr(self) -> str:
        return f"{self.activation_name}, field={self.in_type!r}"


class InvariantLinear(EquivariantModule, register=False):
    """An affine map y = W x + b on invariant features (any W commutes with the trivial action).

    Used after the invariant pooling A to produce logits or regression targets.

    Args:
        in_type: a :class:`TrivialField` with a known channel count.
        out_features: size of the output.
        bias: learn b.

    Shapes:
        ``[..., C_in]`` → ``[..., out_features]``.
    """

    def __init__(self, in_type: TrivialField, out_features: int, bias: bool = True):
        super().__init__()
        if not isinstance(in_type, TrivialField) or in_type.channels is None:
            raise TypeError(f"InvariantLinear expects a TrivialField with a channel count, got {in_type!r}")
        self.in_type = in_type
        self.out_type = TrivialField(in_type.group, out_features)
        self.linear = nn.Linear(in_type.channels, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.linear(x)


class Blueprint(EquivariantModule, register=False):
    """The book's blueprint (§3.5): f = A ∘ σ ∘ B_J ∘ P_{J−1} ∘ … ∘ P_1 ∘ σ ∘ B_1.

    A sequential composition of equivariant layers: linear G-equivariant maps
    B, pointwise nonlinearities σ, local poolings P (which may coarsen the
    group, e.g. strided pooling keeps only shifts by multiples of the stride)
    and a final G-invariant pooling A (possibly followed by layers acting on
    invariants). The composition respects the *intersection* of the layers'
    groups; construction checks that each layer's output type matches the
    next layer's input type on that common group, and raises otherwise.

    Args:
        layers: the equivariant layers in order, each taking one input.

    Shapes:
        input: ``layers[0].in_type``; output: ``layers[-1].out_type``.
    """

    def __init__(self, *layers: EquivariantModule):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("a Blueprint needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, EquivariantModule):
                raise TypeError(f"layer {i} of a Blueprint must be an EquivariantModule, got {type(layer).__name__}")
        group = common_subgroup(layer.group for layer in layers)
        for i, (before, after) in enumerate(zip(layers[:-1], layers[1:])):
            produced, expected = before.out_type.restrict(group), after.in_type.restrict(group)
            if produced != expected:
                raise TypeError(f"layer {i} ({type(before).__name__}) produces {produced!r} "
                                f"but layer {i + 1} ({type(after).__name__}) expects {expected!r}")
        self.layers = nn.ModuleList(layers)
        self.in_type = layers[0].in_type.restrict(group)
        self.out_type = layers[-1].out_type.restrict(group)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def extra_repr(self) -> str:
        return f"group={self.group!r}"
