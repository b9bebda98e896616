"""One way to make a report figure (headless matplotlib, PNG).

Figures are ``matplotlib.figure.Figure`` objects drawn by the Agg canvas directly: no pyplot state and no
``matplotlib.use``, so a notebook or GUI session keeps its own backend while experiments save their plots.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["saved_figure", "training_curves"]


@contextlib.contextmanager
def saved_figure(path: str | Path, figsize: tuple[float, float] = (5.0, 3.5), ncols: int = 1) -> Iterator:
    """Yield matplotlib axes; on exit add a grid and legend and save ``path`` as a 120-dpi PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)  # attaches itself to the figure; nothing is registered with pyplot
    axes = figure.subplots(1, ncols, squeeze=False)
    yield axes[0, 0] if ncols == 1 else list(axes[0])
    for axis in axes.flat:
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def training_curves(path: str | Path, histories: dict[str, list[dict]], title: str) -> str:
    """Plot each model's per-epoch ``train_loss`` (solid) and ``val_loss`` (dashed) and save ``path``; return its name."""
    with saved_figure(path) as axis:
        for model_name, history in histories.items():
            epochs = [record["epoch"] for record in history]
            axis.plot(epochs, [record["train_loss"] for record in history], marker="o", label=f"{model_name} train")
            axis.plot(epochs, [record["val_loss"] for record in history], linestyle="--", label=f"{model_name} test")
        axis.set(xlabel="epoch", ylabel="cross-entropy", title=title)
    return Path(path).name
