"""Copy memory with an orthogonal recurrent matrix on the Stiefel manifold (book §4.4; Arjovsky et al. 2016).

The task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016): a sequence of T + 20 symbols starts with
10 random symbols from {1, …, 8}, continues with blanks (0), has a delimiter (9) at position T + 10 and ends with
10 blanks; the target is blank everywhere except the last 10 steps, where the network must repeat the first 10
symbols. Remembering nothing scores the cross-entropy 10 log 8 / (T + 20) (predict blanks, then uniform symbols).

All models share one recurrent cell (:class:`CopyRNN`),

    h_t = modReLU(W h_{t−1} + U x_t),   modReLU(z) = sign(z) · relu(|z| + b),   y_t = V h_t,

with W initialised to the same random orthogonal matrix, and differ only in how W is trained:

* ``orthogonal``: W is a ``ManifoldParameter`` on the Stiefel manifold St(H, H) = O(H)
  (:class:`~gdl.geodesics.OrthogonalLinear`), trained with RiemannianAdam (:func:`~gdl.geodesics.riemannian_optimizer`):
  every step is a retraction, so WᵀW = I holds to round-off, ‖W h‖ = ‖h‖, and the Jacobian of one step,
  diag(0 or 1) · W, has norm ≤ 1 (modReLU's derivative is 0 or 1 wherever it exists): the gradient through T steps
  cannot explode;
* ``unconstrained``: W an ordinary parameter, Adam with the same learning rate and no clipping;
* ``unconstrained_clipped``: the same with the global gradient norm clipped at 1, the usual remedy for
  exploding gradients.

Settings (batch 128, hidden size H = 64, Adam/RiemannianAdam lr 10⁻³, 1,000 fresh test sequences): quick T = 200,
320 steps (4 epochs over 10,240 sequences); full T = 500, 5,000 steps (20 epochs over 32,000 sequences). The
recurrence has a hand-written backward pass (:class:`ModReLURecurrence`, checked against autograd).
Arjovsky et al. (2016, T = 100–500) and Lezcano-Casado & Martínez-Rubio (2019, T = 1000 and 2000) show learning
curves with many more steps rather than a table, so there is no paper column.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn
from torch.utils.data import Dataset

from gdl.geodesics.layers import OrthogonalLinear, random_stiefel
from gdl.geodesics.optim import riemannian_optimizer
from gdl.train import TrainConfig

from .base import Experiment, Result, Row, Settings, Task, init_model
from .plotting import saved_figure

__all__ = ["OrthogonalRNN", "CopyRNN", "CopyMemory", "copy_memory", "copy_step", "modrelu_recurrence"]

SYMBOLS, MEMORY = 8, 10  # symbols 1..8, 10 of them to remember
BLANK, DELIMITER = 0, SYMBOLS + 1


def copy_memory(count: int, delay: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` copy-memory sequences with T = ``delay``: inputs and targets ``[count, delay + 20]`` int64."""
    symbols = torch.randint(1, SYMBOLS + 1, (count, MEMORY), generator=generator)
    inputs = torch.zeros(count, delay + 2 * MEMORY, dtype=torch.long)
    inputs[:, :MEMORY] = symbols
    inputs[:, delay + MEMORY - 1] = DELIMITER
    targets = torch.zeros_like(inputs)
    targets[:, -MEMORY:] = symbols
    return inputs, targets


class CopyMemory(Dataset):
    """A fixed set of copy-memory sequences (``__getitems__`` hands over whole batches)."""

    def __init__(self, count: int, delay: int, seed: int):
        self.inputs, self.targets = copy_memory(count, delay, torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.inputs[index], self.targets[index]


def _pass_batch(batch):
    return batch


class ModReLURecurrence(torch.autograd.Function):
    """h_t = modReLU(W h_{t−1} + u_t), h_0 = 0, with a hand-written backward pass through time.

    The forward loop runs without recording an autograd graph and keeps only the pre-activations z_t and states
    h_t; the backward loop is the adjoint recurrence ∂h_{t−1} = (∂h_t ⊙ 1[|z_t| + b > 0]) W, and the weight and
    threshold gradients are single contractions over all steps afterwards, ∂W = Σ_t ∂z_tᵀ h_{t−1},
    ∂b = Σ_t ∂z_t ⊙ sign(z_t). Versus the same loop under autograd it is 3× (T = 100) to 10× (T = 500) faster on
    a CPU and agrees with it to round-off (checked with ``torch.autograd.gradcheck`` in float64).
    """

    @staticmethod
    def forward(ctx, drive: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = drive.shape
        weight_t = weight.T
        h = drive.new_zeros(batch, hidden)
        pre, states = drive.new_empty(length, batch, hidden), drive.new_empty(length, batch, hidden)
        for t in range(length):  # the recurrence is sequential in time
            z = torch.addmm(drive[:, t], h, weight_t)
            h = torch.sign(z) * torch.relu(z.abs() + threshold)
            pre[t], states[t] = z, h
        ctx.save_for_backward(weight, threshold, pre, states)
        return states.transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_states: torch.Tensor):
        weight, threshold, pre, states = ctx.saved_tensors
        length, batch, hidden = pre.shape
        grad_states = grad_states.transpose(0, 1)
        active = (pre.abs() + threshold) > 0
        grad_pre = torch.empty_like(pre)
        grad_h = pre.new_zeros(batch, hidden)
        for t in range(length - 1, -1, -1):
            grad_pre[t] = (grad_h + grad_states[t]) * active[t]
            grad_h = grad_pre[t] @ weight
        previous = torch.cat([states.new_zeros(1, batch, hidden), states[:-1]])
        grad_weight = torch.einsum("lbi,lbj->ij", grad_pre, previous)
        grad_threshold = (grad_pre * torch.sign(pre)).sum((0, 1))
        return grad_pre.transpose(0, 1), grad_weight, grad_threshold


def modrelu_recurrence(drive: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """States ``[B, L, H]`` of h_t = sign(z_t) relu(|z_t| + b), z_t = W h_{t−1} + u_t, from drives u ``[B, L, H]``."""
    return ModReLURecurrence.apply(drive, weight, threshold)


class CopyRNN(nn.Module):
    """h_t = modReLU(W h_{t−1} + U x_t), y_t = V h_t, with W orthogonal-constrained or free (module docstring).

    Args:
        hidden: H.
        orthogonal: keep W on the Stiefel manifold (an :class:`OrthogonalLinear`) or train it freely.

    Shapes:
        ``[B, L]`` symbols → ``[B, L, 9]`` logits.
    """

    def __init__(self, hidden: int = 64, orthogonal: bool = True):
        super().__init__()
        self.hidden, self.orthogonal = hidden, orthogonal
        self.embed = nn.Embedding(DELIMITER + 1, hidden)
        if orthogonal:
            self.recurrent = OrthogonalLinear(hidden, hidden, vector_dim=1)
        else:
            self.recurrent = nn.Linear(hidden, hidden, bias=False)
            with torch.no_grad():
                self.recurrent.weight.copy_(random_stiefel(hidden, hidden))
        self.threshold = nn.Parameter(torch.zeros(hidden))  # modReLU's b (b = 0: the identity)
        self.readout = nn.Linear(hidden, SYMBOLS + 1)

    @property
    def weight(self) -> torch.Tensor:
        """W ``[H, H]``."""
        return self.recurrent.matrix if self.orthogonal else self.recurrent.weight

    def forward(self, symbols: torch.Tensor) -> torch.Tensor:
        return self.readout(modrelu_recurrence(self.embed(symbols), self.weight, self.threshold))


def copy_step(model: CopyRNN, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy over all steps, and the accuracy on the 10 recalled symbols."""
    inputs, targets = batch
    logits = model(inputs)
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
    recalled = (logits[:, -MEMORY:].argmax(-1) == targets[:, -MEMORY:]).float().mean()
    return {"loss": loss, "recall_accuracy": recalled}


@dataclasses.dataclass(frozen=True)
class _Setting:
    delay: int
    steps: int
    epochs: int
    batch_size: int = 128
    hidden: int = 64
    lr: float = 1e-3
    test_size: int = 1000


QUICK, FULL = _Setting(delay=200, steps=320, epochs=4), _Setting(delay=500, steps=5000, epochs=20)


class OrthogonalRNN(Experiment):
    name = "orthogonal_rnn"
    title = "Copy memory: an orthogonal (Stiefel) recurrent matrix against an unconstrained one"
    book_section = "§4.4"
    models = ("orthogonal", "unconstrained", "unconstrained_clipped")

    def make_task(self, model: str, settings: Settings) -> Task:
        """One model's training task; ``optimizer_factory`` is RiemannianAdam for ``orthogonal`` (else the Trainer's
        default AdamW with weight decay 0, i.e. Adam)."""
        setting = QUICK if settings.quick else FULL
        network = init_model(settings.seed, CopyRNN, setting.hidden, orthogonal=model == "orthogonal")
        train = CopyMemory(setting.steps * setting.batch_size // setting.epochs, setting.delay, seed=settings.seed)
        test = CopyMemory(setting.test_size, setting.delay, seed=settings.seed + 10_000)
        # [128, 64] matmuls: one thread is fastest on a CPU
        config = TrainConfig(epochs=setting.epochs, batch_size=setting.batch_size, eval_batch_size=setting.test_size,
                             lr=setting.lr, seed=settings.seed, device=settings.device, progress=settings.progress,
                             grad_clip=1.0 if model == "unconstrained_clipped" else None, threads=1)
        factory = (lambda params: riemannian_optimizer(network, "adam", setting.lr)) if model == "orthogonal" else None
        return Task(network, copy_step, train, test, config, collate_fn=_pass_batch, optimizer_factory=factory)

    def run(self, settings: Settings) -> Result:
        out = self.output_dir(settings)
        setting = QUICK if settings.quick else FULL
        baseline = MEMORY * math.log(SYMBOLS) / (setting.delay + 2 * MEMORY)
        histories, drift, recall, loss = {}, {}, {}, {}
        for name in self.models:
            trainer = self.train_model(name, settings)
            histories[name] = trainer.history
            final = histories[name][-1]
            loss[name], recall[name] = final["val_loss"], final["val_recall_accuracy"]
            with torch.no_grad():
                w = trainer.model.weight.detach().double().cpu()
                drift[name] = float((w.T @ w - torch.eye(w.shape[0], dtype=torch.float64)).abs().max())
        rows = []
        for name in self.models:
            rows += [Row(name, "test cross-entropy / memoryless baseline", loss[name] / baseline, "{:.3f}"),
                     Row(name, "test accuracy on the 10 recalled symbols", recall[name], "{:.1%}"),
                     Row(name, "‖WᵀW − I‖_max after training", drift[name], "{:.1e}")]
        plots = [self._plot(out, histories, baseline)]
        sequences = setting.steps * setting.batch_size // setting.epochs
        setting_text = (f"copy memory T = {setting.delay} (sequences of {setting.delay + 2 * MEMORY}), hidden {setting.hidden}, "
                        f"{setting.steps} steps of batch {setting.batch_size} ({setting.epochs} epochs over {sequences:,} "
                        f"sequences), lr {setting.lr:g}, {setting.test_size} test sequences; memoryless cross-entropy "
                        f"{baseline:.4f}")
        ranking = sorted(self.models, key=lambda m: -recall[m])
        notes = (
            "Cross-entropy is reported relative to the memoryless baseline 10 log 8 / (T + 20): below 1 means the network "
            "remembers something; the recall accuracy (chance 12.5%) says how much. The three models start from the same "
            "orthogonal W and see the same batches; only the training of W differs. On the Stiefel manifold W stays "
            "orthogonal to round-off (the ‖WᵀW − I‖_max rows), so the recurrence cannot amplify and needs no gradient "
            "clipping; the unconstrained W drifts away from O(H) within a few hundred steps. "
            f"In this run the recall ranking is {', '.join(f'{m} {recall[m]:.1%}' for m in ranking)}. "
            "Results vary with the seed at this budget; the published comparisons (Arjovsky et al. 2016, T = 100–500; "
            "Lezcano-Casado & Martínez-Rubio 2019, T = 1000–2000) train far longer. Quick mode is not a reproduction.")
        return Result(self.name, self.title, settings.mode, setting_text, rows, plots, notes)

    @staticmethod
    def _plot(out, histories, baseline) -> str:
        with saved_figure(out / "copy_memory.png", figsize=(9.0, 3.5), ncols=2) as (loss_axis, recall_axis):
            for name, history in histories.items():
                epochs = [r["epoch"] for r in history]
                loss_axis.plot(epochs, [r["train_loss"] / baseline for r in history], marker="o", label=name)
                recall_axis.plot(epochs, [r["val_recall_accuracy"] for r in history], marker="o", label=name)
            loss_axis.axhline(1.0, color="grey", linestyle="--", linewidth=1)
            loss_axis.set(xlabel="epoch", ylabel="train cross-entropy / memoryless", yscale="log",
                          title="Copy memory: training loss")
            recall_axis.set(xlabel="epoch", ylabel="test recall accuracy", ylim=(0, 1), title="Recalled symbols")
        return "copy_memory.png"
