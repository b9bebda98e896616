"""A small deterministic training run for the distributed and kill-and-resume tests.

Usage: python train_worker.py RUN_DIR [--epochs E] [--checkpoint-every S] [--sleep SECONDS] [--dropout P]
                              [--nan-step K --nan-rank R]
Writes RUN_DIR/rank{R}.pt with the final parameters and history of this rank; with ``--nan-step`` the loss of
rank R is NaN at its K-th training step (0-based, counted over the run) and each rank writes the error to
RUN_DIR/error_rank{R}.txt, waits for the others (so that torchrun does not stop a rank before it wrote) and exits
with status 3.
"""

import argparse
import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

from gdl.train import TrainConfig, Trainer, shutdown


def dataset(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    return TensorDataset(x, y)


def model(dropout=0.0):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Dropout(dropout), nn.Linear(32, 2))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--nan-step", type=int)
    parser.add_argument("--nan-rank", type=int, default=0)
    args = parser.parse_args(argv)
    calls = [0]
    poisoned = args.nan_step is not None and int(os.environ.get("RANK", "0")) == args.nan_rank

    def step(net, batch):
        time.sleep(args.sleep)
        inputs, labels = batch
        logits = net(inputs)
        loss = nn.functional.cross_entropy(logits, labels)
        if net.training:
            if poisoned and calls[0] == args.nan_step:
                loss = loss * float("nan")
            calls[0] += 1
        return {"loss": loss, "accuracy": (logits.argmax(-1) == labels).float().mean()}

    config = TrainConfig(epochs=args.epochs, batch_size=32, lr=5e-3, seed=7, device="cpu", progress=False,
                         checkpoint_every=args.checkpoint_every)
    trainer = Trainer(model(args.dropout), step, dataset(), val_set=dataset(64, seed=1), config=config,
                      run_dir=args.run_dir)
    try:
        history = trainer.fit(resume=True)
    except FloatingPointError as error:
        with open(f"{args.run_dir}/error_rank{trainer.context.rank}.txt", "w") as file:
            file.write(str(error))
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
        shutdown()
        sys.exit(3)
    torch.save({"params": [p.detach() for p in trainer.model.parameters()], "history": history},
               f"{args.run_dir}/rank{trainer.context.rank}.pt")
    shutdown()


if __name__ == "__main__":
    main()
