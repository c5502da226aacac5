#!/usr/bin/python3
"""Plots a `fathom train` log (OUT/log.jsonl): training loss per logged step and validation loss per evaluation,
against tokens seen, as a PNG for the model card. Needs Debian's python3-matplotlib.

  plot_loss.py LOG.jsonl OUT.png [--tokens-per-step N] [--title TEXT]
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("out")
    ap.add_argument("--tokens-per-step", type=int, default=4096)
    ap.add_argument("--title", default="fathom-tiny")
    a = ap.parse_args()
    train, val = [], []
    with open(a.log) as f:
        for line in f:
            r = json.loads(line)
            if "val_loss" in r:
                val.append((r["step"], r["val_loss"]))
            elif "loss" in r:
                train.append((r["step"], r["loss"]))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    k = a.tokens_per_step / 1e6
    ax.plot([s * k for s, _ in train], [l for _, l in train], label="training loss", lw=1.2)
    if val:
        ax.plot([s * k for s, _ in val], [l for _, l in val], "o-", label="validation loss", lw=1.5)
    ax.set_xlabel("tokens seen (millions)")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(a.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, metadata={"Software": None})


if __name__ == "__main__":
    main()
