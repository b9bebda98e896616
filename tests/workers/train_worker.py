"""A small deterministic training run for the distributed and kill-and-resume tests.

Usage: python train_worker.py RUN_DIR [--epochs E] [--checkpoint-every S] [--sleep SECONDS] [--dropout P]
Writes RUN_DIR/rank{R}.pt with the final parameters and history of this rank.
"""

import argparse
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
    args = parser.parse_args(argv)

    def step(net, batch):
        time.sleep(args.sleep)
        inputs, labels = batch
        logits = net(inputs)
        return {"loss": nn.functional.cross_entropy(logits, labels),
                "accuracy": (logits.argmax(-1) == labels).float().mean()}

    config = TrainConfig(epochs=args.epochs, batch_size=32, lr=5e-3, seed=7, device="cpu", progress=False,
                         checkpoint_every=args.checkpoint_every)
    trainer = Trainer(model(args.dropout), step, dataset(), val_set=dataset(64, seed=1), config=config,
                      run_dir=args.run_dir)
    history = trainer.fit(resume=True)
    torch.save({"params": [p.detach() for p in trainer.model.parameters()], "history": history},
               f"{args.run_dir}/rank{trainer.context.rank}.pt")
    shutdown()


if __name__ == "__main__":
    main()
