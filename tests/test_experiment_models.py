"""Every model an experiment reports numbers for is symmetry-checked as a whole, not only its layers.

For each registered experiment and model, the task that ``gdl reproduce`` and ``gdl train`` train is built in a
small setting; one batch of its own training data is passed through its own loss, and the inputs that reach the
model's equivariant network (the outermost :class:`~gdl.core.EquivariantModule` inside it: the whole model, or the
network under a fixed readout map) are captured and checked with :func:`gdl.testing.assert_equivariant` in float64
at the network's own tolerance. Models with no symmetry of their inputs at all are listed below with the reason;
a model that is neither checked nor listed fails.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from gdl.core import EquivariantModule
from gdl.experiments import Settings, experiments
from gdl.meshes import Mesh
from gdl.testing import assert_equivariant

#: (experiment, model) → why the reported baseline respects no symmetry of its inputs
NO_SYMMETRY = {
    ("shift_mnist", "plain_cnn"): "zero padding and a dense head: the control that breaks translation symmetry",
    ("orthogonal_rnn", "orthogonal"): "a recurrent network on sequences: time steps are not interchangeable",
    ("orthogonal_rnn", "unconstrained"): "a recurrent network on sequences: time steps are not interchangeable",
    ("orthogonal_rnn", "unconstrained_clipped"): "a recurrent network on sequences: time steps are not interchangeable",
    ("tiny_lm", "torch_causal"): "torch's own causal layers with token embeddings and positions: no symmetry",
    ("tetris3d", "mlp"): "a dense map of concatenated coordinates: the baseline that sees no symmetry",
    ("emlp_synthetic", "mlp_o5"): "a dense MLP of the flat inputs: the baseline that sees no symmetry",
    ("emlp_synthetic", "mlp_inertia"): "a dense MLP of the flat inputs: the baseline that sees no symmetry",
    ("emlp_synthetic", "mlp_lorentz"): "a dense MLP of the flat inputs: the baseline that sees no symmetry",
}

CASES = [(name, model) for name, cls in experiments().items() for model in cls.models]


def _outermost_equivariant(model: nn.Module) -> list[EquivariantModule]:
    """The EquivariantModules of ``model`` that no other EquivariantModule of it contains."""
    found: list[EquivariantModule] = []

    def visit(module: nn.Module) -> None:
        if isinstance(module, EquivariantModule):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return found


def _first_batch(task):
    data = task.train_set
    if hasattr(data, "__getitem__") and not hasattr(data, "__len__"):
        return data[0]
    loader = DataLoader(data, batch_size=min(4, len(data)), shuffle=False, collate_fn=task.collate_fn)
    return next(iter(loader))


def _float64(value):
    """A captured input in float64; a mesh ``Data`` is rebuilt from its float64 vertices, so that its stored geometry
    is that of its own positions to the last digit (the E(3) action recomputes it from moved positions)."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if hasattr(value, "face") and hasattr(value, "pos") and hasattr(value, "frame"):
        return Mesh(value.pos.double(), value.face.T).to_data(dtype=torch.float64)
    return value


@pytest.mark.parametrize(("name", "model"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_the_reported_model_is_equivariant_as_a_whole(name, model):
    experiment = experiments()[name]()
    task = experiment.task(model, Settings(quick=True, limit=16, epochs=1, progress=False))
    networks = _outermost_equivariant(task.model)
    if (name, model) in NO_SYMMETRY:
        assert not networks or all(net is not task.model for net in networks), \
            f"{name}/{model} is listed as having no symmetry but is an EquivariantModule: check it instead"
        return
    assert networks, f"{name}/{model} contains no EquivariantModule and is not listed in NO_SYMMETRY"
    captured: dict[int, tuple] = {}
    def capture(module, args):
        captured.setdefault(id(module), args)

    hooks = [net.register_forward_pre_hook(capture) for net in networks]
    try:
        task.model.eval()
        with torch.no_grad():
            task.loss_fn(task.model, _first_batch(task))
    finally:
        for hook in hooks:
            hook.remove()
    checked = 0
    for net in networks:
        if id(net) not in captured:
            continue
        args = tuple(_float64(a) for a in captured[id(net)])
        error = assert_equivariant(net, args, dtype=torch.float64, n_samples=3,
                                   generator=torch.Generator().manual_seed(0))
        print(f"{name}/{model}: {type(net).__name__} max error {error:.2e}")
        checked += 1
    assert checked, f"{name}/{model}: none of its equivariant networks ran on its own batch"
