"""The ``gdl`` command: reproduce the book's examples, train one model.

    gdl reproduce --list                 list the registered examples
    gdl reproduce [NAME ...] [--quick]   run them (all when no NAME) and write results/REPORT.md
    gdl reproduce [NAME ...] --dry-run   every model in the full configuration: a few steps and one evaluation
    gdl train NAME --model M [...]       train one model of an example, resumable from its run folder;
                                         prints one line per epoch
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the CPU-minutes setting (default: the full setting)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, initialisation and shuffling (default 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N (default auto)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--limit", type=int, metavar="N", help="cut every data set to its first N items (smoke runs)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gdl", description="Geometric deep learning: reproduce the book's examples.")
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser("reproduce", help="run registered examples and write results/REPORT.md")
    reproduce.add_argument("names", nargs="*", metavar="NAME", help="examples to run (default: all)")
    reproduce.add_argument("--list", action="store_true", help="list the registered examples and exit")
    reproduce.add_argument("--out", type=Path, default=Path("results"), help="results folder (default results/)")
    reproduce.add_argument("--dry-run", action="store_true",
                           help="build every model's full-setting data, model and optimiser, take a few steps and "
                                "evaluate once on cut data sets; writes no results")
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
    try:
        settings = Settings(quick=args.quick, seed=args.seed, device=args.device, out_dir=args.out,
                            progress=not args.no_progress, limit=args.limit, dry_run=args.dry_run)
    except ValueError as error:
        print(f"gdl reproduce: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        return _dry_run(args.names or list(known), settings)
    for name in args.names or list(known):
        print(f"== {name} ({settings.mode}) ==", flush=True)
        result = get_experiment(name).reproduce(settings)
        for row in result.rows:
            print(f"  {row.model:<14} {row.metric:<45} {row.formatted(row.value)}")
        print(f"  ({result.seconds:.0f} s)", flush=True)
    print(f"report: {args.out / 'REPORT.md'}")
    return 0


def _format(record: dict) -> str:
    return " ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in record.items())


def _dry_run(names: list[str], settings) -> int:
    """``gdl reproduce --dry-run``: one line per model, the seconds per example; 1 if any failed."""
    import time

    from gdl.experiments import get_experiment

    failed = []
    for name in names:
        print(f"== {name} (dry run of the full setting) ==", flush=True)
        start = time.perf_counter()
        try:
            records = get_experiment(name).dry_run(settings)
        except Exception as error:  # report every example, then fail
            failed.append(name)
            print(f"  FAILED: {type(error).__name__}: {error}", flush=True)
            continue
        for model, record in records.items():
            print(f"  {model:<14} {_format(record)}")
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print(f"gdl reproduce --dry-run: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train one model; under ``torchrun`` every rank runs this and rank 0 reports."""
    from gdl.experiments import Settings, get_experiment
    from gdl.train import Callback, CheckpointError, shutdown
    from gdl.train.distributed import DeviceUnavailableError

    class PrintEpochs(Callback):
        """One line per epoch as it ends (rank 0), progress bars or not."""

        def on_epoch_end(self, trainer, record):
            if trainer.context.is_main:
                print(_format(record), flush=True)

    try:
        experiment = get_experiment(args.name)
    except KeyError as error:
        print(f"gdl train: {error.args[0]}", file=sys.stderr)
        return 2
    model = args.model or (experiment.models[0] if experiment.models else None)
    try:
        experiment.check_model(model)
        settings = Settings(quick=args.quick, seed=args.seed, device=args.device, progress=not args.no_progress,
                            limit=args.limit, epochs=args.epochs)
    except ValueError as error:
        print(f"gdl train: {error}", file=sys.stderr)
        return 2
    overrides = {"batch_size": args.batch_size, "lr": args.lr, "checkpoint_every": args.checkpoint_every,
                 "amp": args.amp or None, "compile": args.compile or None}
    run_dir = args.run_dir or Path("runs") / f"{args.name}-{model}"
    try:
        trainer = experiment.trainer(model, settings, run_dir=run_dir, callbacks=[PrintEpochs()],
                                     overrides={k: v for k, v in overrides.items() if v is not None})
        report = print if trainer.context.is_main else (lambda *a, **k: None)
        if not args.no_resume and trainer.resume():
            report(f"resumed {run_dir / 'checkpoint.pt'} at epoch {trainer.epoch}, step {trainer.step}")
        trainer.fit(resume=False)
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
