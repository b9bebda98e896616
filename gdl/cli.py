"""The ``gdl`` command: reproduce the book's examples, train one model.

    gdl reproduce --list                 list the registered examples
    gdl reproduce [NAME ...] [--quick]   run them (all when no NAME) and write results/REPORT.md
    gdl train NAME --model M [...]       train one model of an example, resumable from its run folder
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

__all__ = ["main"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the CPU-minutes setting (default: the full setting)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, initialisation and shuffling (default 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N (default auto)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gdl", description="Geometric deep learning: reproduce the book's examples.")
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser("reproduce", help="run registered examples and write results/REPORT.md")
    reproduce.add_argument("names", nargs="*", metavar="NAME", help="examples to run (default: all)")
    reproduce.add_argument("--list", action="store_true", help="list the registered examples and exit")
    reproduce.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    _add_common(reproduce)

    train = commands.add_parser("train", help="train one model of an example (resumes from --run-dir)")
    train.add_argument("name", metavar="NAME", help="the example")
    train.add_argument("--model", help="which of the example's models (default: its first)")
    train.add_argument("--epochs", type=int, help="override the number of epochs")
    train.add_argument("--batch-size", type=int, help="override the batch size")
    train.add_argument("--lr", type=float, help="override the learning rate")
    train.add_argument("--run-dir", type=Path, help="checkpoint and metrics folder (default runs/NAME-MODEL)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    train.add_argument("--amp", action="store_true", help="bfloat16 autocast for forward and loss")
    train.add_argument("--compile", action="store_true", help="train the torch.compile'd model")
    train.add_argument("--checkpoint-every", type=int, metavar="STEPS", help="also checkpoint every STEPS steps")
    _add_common(train)
    return parser


def _reproduce(args: argparse.Namespace) -> int:
    from gdl.experiments import Settings, experiments, get_experiment

    known = experiments()
    if args.list:
        width = max(map(len, known), default=0)
        for name, cls in known.items():
            print(f"{name:<{width}}  {cls.book_section:<12}  {cls.title}")
        return 0
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"gdl reproduce: unknown example(s) {', '.join(unknown)}; registered: {', '.join(known)}", file=sys.stderr)
        return 2
    settings = Settings(quick=args.quick, seed=args.seed, device=args.device, out_dir=args.out,
                        progress=not args.no_progress)
    for name in args.names or list(known):
        print(f"== {name} ({settings.mode}) ==", flush=True)
        result = get_experiment(name).reproduce(settings)
        for row in result.rows:
            print(f"  {row.model:<14} {row.metric:<45} {row.formatted(row.value)}")
        print(f"  ({result.seconds:.0f} s)", flush=True)
    print(f"report: {args.out / 'REPORT.md'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train one model; under ``torchrun`` every rank runs this and rank 0 reports."""
    from gdl.experiments import Settings, get_experiment
    from gdl.train import CheckpointError, Trainer, shutdown
    from gdl.train.distributed import DeviceUnavailableError

    try:
        experiment = get_experiment(args.name)
    except KeyError as error:
        print(f"gdl train: {error.args[0]}", file=sys.stderr)
        return 2
    model = args.model or (experiment.models[0] if experiment.models else None)
    if model not in experiment.models:
        print(f"gdl train: {args.name} has models {', '.join(experiment.models)}; got {model!r}", file=sys.stderr)
        return 2
    settings = Settings(quick=args.quick, seed=args.seed, device=args.device, progress=not args.no_progress)
    task = experiment.task(model, settings)
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "checkpoint_every": args.checkpoint_every, "amp": args.amp or None, "compile": args.compile or None}
    config = dataclasses.replace(task.config, **{k: v for k, v in overrides.items() if v is not None})
    run_dir = args.run_dir or Path("runs") / f"{args.name}-{model}"
    try:
        trainer = Trainer(task.model, task.loss_fn, task.train_set, val_set=task.val_set, config=config,
                          run_dir=run_dir, collate_fn=task.collate_fn, optimizer_factory=task.optimizer_factory)
        report = print if trainer.context.is_main else (lambda *a, **k: None)
        if not args.no_resume and trainer.resume():
            report(f"resumed {run_dir / 'checkpoint.pt'} at epoch {trainer.epoch}, step {trainer.step}")
        for record in trainer.fit(resume=False):
            report(" ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                            for key, value in record.items()))
        report(f"checkpoint: {trainer.checkpoint_path}\nmetrics: {trainer.metrics_path}")
    except (CheckpointError, DeviceUnavailableError, ValueError) as error:
        print(f"gdl train: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _reproduce(args) if args.command == "reproduce" else _train(args)


if __name__ == "__main__":
    sys.exit(main())
