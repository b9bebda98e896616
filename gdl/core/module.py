"""The one layer interface: :class:`EquivariantModule`, its registry, and the blueprint.

Every gdl layer is a ``torch.nn.Module`` that also states (contract v2)

* ``field_types(*inputs) -> (in_type, out_type)``: the :class:`~gdl.core.FieldType` of its input and output for
  these inputs, over one common group G (``out_type`` trivial ⇒ invariant). A layer whose types do not depend on
  its inputs (a convolution on images) sets fixed ``in_type`` / ``out_type`` attributes and the default returns
  them; a layer that runs on any number N of nodes, points or vertices (whose group S_N depends on N) reads N from
  its inputs and has no fixed ``in_type``. The harness, the registry sweep and users call ``field_types``;
* ``example(generator)``: a small instance and valid inputs, which the registry sweep
  (``tests/test_registry.py``), the docs and users run;
* ``bad_inputs(*inputs)``: a few invalid variants of valid inputs, each of which must raise ``ValueError`` or
  ``TypeError`` naming what was expected and what was given (the sweep tries them all);
* ``export()``: the same function as a plain-torch module (or ``NotImplementedError`` naming the class);
* ``equivariance_tolerance``: ``None`` for exact symmetries, or the declared error bound of an approximate one
  (interpolated rotations, sampled nonlinearities), which the sweep then enforces instead of the exact bound.

Subclasses defined inside ``gdl`` register themselves; :func:`registry` lists them. A class defined elsewhere (a
user's layer, a notebook cell) joins the registry only when it opts in with ``class Foo(EquivariantModule,
register=True)``. Building blocks that only make sense inside a larger layer opt out with ``register=False``; the
sweep then requires them to appear inside some registered example, so nothing escapes measurement.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from .checks import checking, value_checks
from .field import FieldType, TrivialField, TupleField
from .group import Group, common_subgroup

__all__ = ["ACTIVATIONS", "resolve_activation", "activation_module", "EquivariantModule", "registry", "Pointwise",
           "InvariantLinear", "Blueprint", "seeded"]

_REGISTRY: dict[str, type["EquivariantModule"]] = {}


def registry() -> dict[str, type["EquivariantModule"]]:
    """Every registered layer class, keyed by ``module.QualifiedName`` (sorted).

    Only classes whose modules have been imported are listed; the registry
    sweep imports every ``gdl`` module first.
    """
    return dict(sorted(_REGISTRY.items()))


def _register(cls: type, register: bool | None) -> bool:
    """Enter ``cls`` in the registry when asked (default: classes defined inside gdl) and say whether it was."""
    inside_gdl = cls.__module__ == "gdl" or cls.__module__.startswith("gdl.")
    if not (inside_gdl if register is None else register):
        return False
    key = f"{cls.__module__}.{cls.__qualname__}"
    previous = _REGISTRY.get(key)
    if previous is not None and previous is not cls:
        if inside_gdl and previous.__module__ == cls.__module__ and not cls.__module__ == "__main__":
            # the same gdl module imported twice (importlib.reload): the new definition replaces the old one
            pass
        else:
            warnings.warn(f"registering {cls.__qualname__} replaces the registry entry {key!r} "
                          f"(defined in {previous.__module__}); rename the class to keep both", RuntimeWarning,
                          stacklevel=3)
    _REGISTRY[key] = cls
    return True


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
    r"""A layer f that commutes with a group action: :math:`f(\rho_\text{in}(g)\, x) = \rho_\text{out}(g)\, f(x)`.

    Subclasses implement ``forward`` and the classmethod :meth:`example`, and either set fixed ``self.in_type`` and
    ``self.out_type`` in ``__init__`` or override :meth:`field_types` to read them from the inputs.
    """

    #: ``None`` for an exact symmetry; else the max abs error the layer promises
    #: (float or ``{torch.float32: ..., torch.float64: ...}``)
    equivariance_tolerance: ClassVar[float | dict | None] = None
    #: how many graph breaks ``torch.compile`` makes in this layer's example (0: it traces as one graph); a layer
    #: that needs data-dependent Python control flow declares its count, and the compile test holds it to it
    expected_graph_breaks: ClassVar[int] = 0
    #: names of the context entries (``"edge_index"``, ``"batch"``, ``"mesh"``, …) that a :class:`Blueprint` passes
    #: to this layer after the signal, in this order; ``()`` for layers that take the signal alone
    context_keys: tuple[str, ...] = ()

    def __init_subclass__(cls, register: bool | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._registered = _register(cls, register)

    # -- types -------------------------------------------------------------------------------------------------
    @property
    def in_type(self) -> FieldType:
        """The fixed input type (only for layers whose types do not depend on their inputs)."""
        return self.__dict__.get("_in_type") or self._no_fixed_type("in_type")

    @in_type.setter
    def in_type(self, value: FieldType) -> None:
        self.__dict__["_in_type"] = value

    @property
    def out_type(self) -> FieldType:
        """The fixed output type (only for layers whose types do not depend on their inputs)."""
        return self.__dict__.get("_out_type") or self._no_fixed_type("out_type")

    @out_type.setter
    def out_type(self, value: FieldType) -> None:
        self.__dict__["_out_type"] = value

    def _no_fixed_type(self, name: str) -> FieldType:
        # not an AttributeError: nn.Module.__getattr__ would replace the message with a bare "no attribute"
        raise TypeError(f"{type(self).__name__} has no fixed {name}: its field types depend on its inputs "
                        f"(e.g. the number of nodes N); use layer.field_types(*inputs)")

    @property
    def has_fixed_types(self) -> bool:
        """Whether ``in_type`` / ``out_type`` are fixed attributes (else they come from the inputs)."""
        return self.__dict__.get("_in_type") is not None and self.__dict__.get("_out_type") is not None

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        """``(in_type, out_type)`` for these inputs: what the harness checks f against.

        The default returns the fixed ``in_type`` / ``out_type``. Layers that run on any number of nodes, points or
        vertices override it and read that number from ``inputs`` (their group, e.g. S_N × E(3), depends on it).
        """
        return self.in_type, self.out_type

    def output_type_for(self, in_type: FieldType) -> FieldType | None:
        """The output type on an input of type ``in_type``, for layers that adapt to whatever they are given
        (a pointwise nonlinearity without a fixed field); ``None`` (the default) for every other layer."""
        return None

    @property
    def group(self) -> Group:
        """The group G the layer respects (the group of both its field types; only for fixed types)."""
        return self.in_type.group

    @property
    def is_invariant(self) -> bool:
        """Whether the output is acted on trivially (f(g·x) = f(x); only for fixed types)."""
        return isinstance(self.out_type, TrivialField)

    def check_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        """``field_types(*inputs)``, after checking that both are field types on one group."""
        types = self.field_types(*inputs)
        if not (isinstance(types, tuple) and len(types) == 2):
            raise TypeError(f"{type(self).__name__}.field_types must return (in_type, out_type), got {types!r}")
        for name, value in zip(("in_type", "out_type"), types):
            if not isinstance(value, FieldType):
                raise TypeError(f"{type(self).__name__}.{name} must be a FieldType, got {value!r}")
        if types[0].group != types[1].group:
            raise TypeError(f"{type(self).__name__}: in_type acts by {types[0].group!r} "
                            f"but out_type by {types[1].group!r}; they must share one group")
        return types

    # -- examples, bad inputs, export --------------------------------------------------------------------------
    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EquivariantModule", tuple]:
        """A small instance and a tuple of valid positional inputs for it."""
        raise NotImplementedError(f"{cls.__qualname__} does not implement example(); every registered layer must")

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """Invalid variants of the valid ``inputs``, by what is wrong with them; each must raise ``ValueError`` or
        ``TypeError`` naming what was expected and what was given (the registry sweep tries every one).

        The default mutates the first tensor input: one axis too many, and an integer dtype for a floating tensor
        (a floating one for an integer tensor). Layers add their own (wrong channel count, out-of-range ids, NaN
        positions where they are checked, an empty graph) and drop what does not apply to them.
        """
        position = next((i for i, value in enumerate(inputs) if isinstance(value, torch.Tensor)), None)
        if position is None:
            return {}
        value = inputs[position]

        def replace(new: Any) -> tuple:
            return inputs[:position] + (new,) + inputs[position + 1:]

        wrong_dtype = value.round().long() if value.is_floating_point() else value.double()
        return {f"input {position}: one axis too many": replace(value.unsqueeze(0)),
                f"input {position}: dtype {wrong_dtype.dtype} instead of {value.dtype}": replace(wrong_dtype)}

    def export(self) -> nn.Module:
        """A plain-torch module (no gdl types, no checks) computing the same function.

        Raises:
            NotImplementedError: the layer has no plain-torch form (the message names the class).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement export(): it has no plain-torch form")

    def extra_repr(self) -> str:
        if self.has_fixed_types:
            return f"in_type={self.in_type!r}, out_type={self.out_type!r}"
        return ""


#: entrywise nonlinearities known by name, as ``nn.Module`` classes (for :class:`Pointwise`, the graph MLPs and every
#: layer that takes an ``activation``); the one table in gdl
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "silu": nn.SiLU,
}


def resolve_activation(activation: str | Callable[[torch.Tensor], torch.Tensor], choices: tuple[str, ...] | None = None,
                       allow_callable: bool = True, name: str = "activation") -> tuple[str, Callable]:
    """``(name, function)`` for an activation given by name (one of ``choices``, default all of :data:`ACTIVATIONS`)
    or, when ``allow_callable``, as a callable acting entrywise (its name is its ``__name__``).

    The function of a named activation is a fresh ``nn.Module`` instance (callable, parameter-free).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        TypeError: neither a name nor (when allowed) a callable.
    """
    known = tuple(sorted(choices if choices is not None else ACTIVATIONS))
    if isinstance(activation, str):
        if activation not in known:
            extra = " or a callable" if allow_callable else ""
            raise ValueError(f"unknown {name} {activation!r}; expected one of {list(known)}{extra}")
        return activation, ACTIVATIONS[activation]()
    if allow_callable and callable(activation):
        return getattr(activation, "__name__", type(activation).__name__), activation
    raise TypeError(f"{name} must be a name{' or a callable' if allow_callable else ''}, got {type(activation).__name__}")


def activation_module(activation: str | Callable[[torch.Tensor], torch.Tensor], name: str = "activation") -> nn.Module:
    """An ``nn.Module`` applying ``activation`` (a name in :data:`ACTIVATIONS`, an ``nn.Module`` or an entrywise
    callable) to its input: what ``nn.Sequential`` stacks need."""
    _, function = resolve_activation(activation, name=name)
    return function if isinstance(function, nn.Module) else _Entrywise(function)


class _Entrywise(nn.Module):
    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


class Pointwise(EquivariantModule, register=False):
    r"""A pointwise nonlinearity σ applied entrywise: :math:`y = \sigma(x)`.

    σ commutes with any action that only moves entries around (shifts, permutations, regular representations) and
    with the trivial action, so it is equivariant for field types with ``supports_pointwise``; for others (vectors,
    irreps) it is not, and construction raises ``TypeError``.

    Args:
        field: the field type of input and output, or ``None``: inside a :class:`Blueprint`, take the type the
            previous layer produces (which must support pointwise maps); checked when the blueprint's types are.
        activation: ``"relu"``, ``"gelu"``, ``"tanh"``, ``"sigmoid"``, ``"elu"``, ``"silu"`` or a callable acting
            entrywise.
    """

    def __init__(self, field: FieldType | None = None, activation: str | Callable[[torch.Tensor], torch.Tensor] = "relu"):
        super().__init__()
        if field is not None:
            self._check_field(field)
            self.in_type = self.out_type = field
        self.activation_name, self.activation = resolve_activation(activation)

    @staticmethod
    def _check_field(field: FieldType) -> None:
        if not field.supports_pointwise:
            raise TypeError(f"a pointwise nonlinearity is not equivariant on {field!r}: its group mixes entries; "
                            "use a gated or norm nonlinearity for such fields")

    def output_type_for(self, in_type: FieldType) -> FieldType | None:
        if self.has_fixed_types:
            return None
        self._check_field(in_type)
        return in_type

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        if not self.has_fixed_types:
            raise TypeError("this Pointwise was built without a field: it takes its type from the layer before it in "
                            "a Blueprint; build it with Pointwise(field) to use it alone")
        return self.in_type, self.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.has_fixed_types:
            self.in_type.validate(x)
        return self.activation(x)

    def export(self) -> nn.Module:
        return activation_module(self.activation)

    def extra_repr(self) -> str:
        return f"{self.activation_name}, field={self.__dict__.get('_in_type')!r}"


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

    def export(self) -> nn.Module:
        linear = nn.Linear(self.linear.in_features, self.linear.out_features, bias=self.linear.bias is not None)
        linear.load_state_dict(self.linear.state_dict())
        return linear.to(self.linear.weight)


class Blueprint(EquivariantModule, register=False):
    r"""The book's blueprint (§3.5): :math:`f = A \circ \sigma \circ B_J \circ P_{J-1} \circ \dots \circ P_1 \circ
    \sigma \circ B_1`, with the domain's structure threaded beside the signal.

    A sequential composition of equivariant layers: linear G-equivariant maps B, pointwise nonlinearities σ, local
    poolings P (which may coarsen the group, e.g. strided pooling keeps only shifts by multiples of the stride) and
    a final G-invariant pooling A (possibly followed by layers acting on invariants). The composition respects the
    *intersection* of the layers' groups, and each layer's output type must equal the next layer's input type on
    that common group.

    The *signal* (image, node features, features and positions, vertex features) flows from layer to layer; the
    *context* (``edge_index`` and ``batch`` of a graph, the mesh ``Data``) is the domain's structure, the same for
    every layer: the network takes it after the signal, and each layer receives the entries named by its
    ``context_keys``, after the signal. A layer that returns a tuple passes it on as several signal arguments
    (EGNN's features and positions).

    Types are checked at construction when every layer's types are fixed; otherwise (graphs of any size N) when
    :meth:`field_types` is called on inputs, which runs the chain once. Value-reading input checks run where data
    enters: in the first layer, and in the first layer that reads each context entry; the other layers skip them
    (:func:`gdl.core.checks.value_checks`).

    Args:
        layers: the equivariant layers in order.
        context: the names of the context entries the network takes after the signal, in order
            (e.g. ``("edge_index", "batch")``); every name must be read by some layer.

    Shapes:
        input: the signal, then the context; output: the last layer's output.

    Example:
        >>> from gdl.grids import GridField, PeriodicConv, GlobalPool
        >>> net = Blueprint(PeriodicConv(3, 8), Pointwise(), GlobalPool(GridField(8)))
        >>> net.out_type.channels
        8
    """

    def __init__(self, *layers: EquivariantModule, context: Sequence[str] = ()):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("a Blueprint needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, EquivariantModule):
                raise TypeError(f"layer {i} of a Blueprint must be an EquivariantModule, got {type(layer).__name__}")
        if isinstance(context, str) or len(set(context)) != len(context):
            raise TypeError(f"context must be a sequence of distinct names, got {context!r}")
        self.context = tuple(context)
        read: set[str] = set()
        for i, layer in enumerate(layers):
            unknown = [key for key in layer.context_keys if key not in self.context]
            if unknown:
                raise TypeError(f"layer {i} ({type(layer).__name__}) reads context {unknown}, which the Blueprint "
                                f"does not carry (its context: {list(self.context)})")
            read.update(layer.context_keys)
        unused = [key for key in self.context if key not in read]
        if unused:
            raise TypeError(f"the Blueprint carries context {unused} that no layer reads")
        self.layers = nn.ModuleList(layers)
        # a layer runs its value checks when it is the first, or the first to read some context entry
        seen: set[str] = set()
        self._checks_inputs = []
        for i, layer in enumerate(layers):
            self._checks_inputs.append(i == 0 or bool(set(layer.context_keys) - seen))
            seen.update(layer.context_keys)
        if not self.context and all(layer.has_fixed_types or layer.output_type_for is not
                                    EquivariantModule.output_type_for for layer in layers) and layers[0].has_fixed_types:
            self.in_type, self.out_type = self._link([], fixed=True)

    # -- running ---------------------------------------------------------------------------------------------------
    def _split(self, inputs: tuple) -> tuple[tuple, dict[str, Any]]:
        signal_count = len(inputs) - len(self.context)
        if signal_count < 1:
            raise TypeError(f"this Blueprint takes the signal and then its context {list(self.context)}: "
                            f"expected at least {len(self.context) + 1} inputs, got {len(inputs)}")
        return tuple(inputs[:signal_count]), dict(zip(self.context, inputs[signal_count:]))

    def _run(self, inputs: tuple, record: list | None = None) -> Any:
        signal, context = self._split(inputs)
        compiling = torch.compiler.is_compiling()
        for layer, checks_inputs in zip(self.layers, self._checks_inputs):
            args = signal + tuple(context[key] for key in layer.context_keys)
            if record is not None:
                record.append((layer, args, len(signal)))
            if checks_inputs or compiling or not checking():
                out = layer(*args)
            else:
                with value_checks(False):
                    out = layer(*args)
            signal = out if isinstance(out, tuple) else (out,)
        return signal if len(signal) > 1 else signal[0]

    def forward(self, *inputs: Any) -> Any:
        return self._run(inputs)

    # -- types -----------------------------------------------------------------------------------------------------
    def _link(self, record: list, fixed: bool = False) -> tuple[FieldType, FieldType]:
        """Check that consecutive layers fit on their common group and return the network's ``(in_type, out_type)``.

        ``record`` holds ``(layer, args, number of signal args)`` per layer (from a run); with ``fixed`` the layers'
        fixed types are used and the signal is one value.
        """
        links = []  # (layer, signal component types, context types by name, output type)
        produced: FieldType | None = None
        for i, layer in enumerate(self.layers):
            if fixed:
                args, signal_count = (None,), 1
            else:
                _, args, signal_count = record[i]
            adapted = layer.output_type_for(produced) if produced is not None else None
            if adapted is not None:
                in_type, out_type = produced, adapted
            elif fixed:
                in_type, out_type = layer.check_types()
            else:
                in_type, out_type = layer.check_types(*args)
            several = isinstance(in_type, TupleField) and len(args) > 1
            components = in_type.fields if several else (in_type,)
            if len(components) != len(args):
                raise TypeError(f"layer {i} ({type(layer).__name__}) takes {len(args)} inputs but its in_type "
                                f"{in_type!r} describes {len(components)}")
            context_types = dict(zip(layer.context_keys, components[signal_count:]))
            links.append((layer, components[:signal_count], context_types, out_type))
            produced = out_type
        group = common_subgroup(in_type.group for _, parts, ctx, _ in links for in_type in (*parts, *ctx.values()))
        group = common_subgroup([group] + [out.group for *_, out in links])
        context_types: dict[str, FieldType] = {}
        previous_out = None
        for i, (layer, parts, ctx, out_type) in enumerate(links):
            parts = tuple(part.restrict(group) for part in parts)
            if previous_out is not None:
                restricted = previous_out.restrict(group)
                given = restricted.fields if isinstance(restricted, TupleField) and len(parts) > 1 else (restricted,)
                if given != parts:
                    before = type(links[i - 1][0]).__name__
                    raise TypeError(f"layer {i - 1} ({before}) produces {restricted!r} but layer {i} "
                                    f"({type(layer).__name__}) expects {parts if len(parts) > 1 else parts[0]!r}")
            for key, field in ctx.items():
                field = field.restrict(group)
                if context_types.setdefault(key, field) != field:
                    raise TypeError(f"layer {i} ({type(layer).__name__}) reads context {key!r} as {field!r}, but an "
                                    f"earlier layer reads it as {context_types[key]!r}")
            previous_out = out_type
        first_parts = tuple(part.restrict(group) for part in links[0][1])
        inputs = first_parts + tuple(context_types[key] for key in self.context)
        in_type = inputs[0] if len(inputs) == 1 else TupleField(inputs)
        return in_type, links[-1][3].restrict(group)

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        """The network's types on these inputs: the first layer's signal type and the context's, to the last
        layer's output, all on the intersection of the layers' groups (runs the chain once when they depend on
        the inputs)."""
        if self.has_fixed_types:
            return self.in_type, self.out_type
        record: list = []
        with torch.no_grad():
            self._run(inputs, record)
        return self._link(record)

    def export(self) -> nn.Module:
        """The composition of the layers' exports: an ``nn.Sequential`` without context, else a plain module that
        threads the context as :meth:`forward` does."""
        exported = [layer.export() for layer in self.layers]
        if not self.context:
            return nn.Sequential(*exported)
        return _ExportedChain(exported, self.context, [layer.context_keys for layer in self.layers])

    def extra_repr(self) -> str:
        context = f", context={list(self.context)}" if self.context else ""
        group = f"group={self.group!r}" if self.has_fixed_types else "types from the inputs"
        return group + context


class _ExportedChain(nn.Module):
    """Plain-torch form of a :class:`Blueprint` with context: ``forward(*signal, *context)``."""

    def __init__(self, layers: Sequence[nn.Module], context: tuple[str, ...], keys: Sequence[tuple[str, ...]]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.context = context
        self.keys = [tuple(k) for k in keys]

    def forward(self, *inputs: Any) -> Any:
        split = len(inputs) - len(self.context)
        signal, context = tuple(inputs[:split]), dict(zip(self.context, inputs[split:]))
        for layer, keys in zip(self.layers, self.keys):
            out = layer(*signal, *(context[key] for key in keys))
            signal = out if isinstance(out, tuple) else (out,)
        return signal if len(signal) > 1 else signal[0]
