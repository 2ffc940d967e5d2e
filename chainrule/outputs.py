"""What a run of ``chainrule train`` writes besides the module: history.csv, loss.png, run.json, and
the lines it prints at the end."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def history_csv(history: dict[str, list[float]], path: Path) -> None:
    """Per epoch (from 1): every key of the history, as Python writes a float (exact round trip)."""
    keys = list(history)
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(epoch + 1), *(repr(history[key][epoch]) for key in keys)])
              for epoch in range(len(history.get("loss", [])))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot(history: dict[str, list[float]], path: Path, name: str) -> str | None:
    """Write loss.png; None, or why it was skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed, so loss.png was skipped (pip install 'chainrule[plot]')"
    losses = history.get("loss", [])
    if not losses:
        return "no epoch finished, so loss.png was skipped"
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    try:
        epochs = range(1, len(losses) + 1)
        axes.plot(epochs, losses, label="training loss")
        if history.get("val_loss"):
            axes.plot(epochs, history["val_loss"], label="validation loss")
        if all(value > 0 for key in ("loss", "val_loss") for value in history.get(key, [])):
            axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss E")
        axes.set_title(f"{name}: loss per epoch")
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=100)
    finally:
        plt.close(figure)
    return None


def write_json(record: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def best_epoch(history: dict[str, list[float]], patience: int | None) -> int | None:
    """With patience, the epoch (from 0) whose params train() returned: the lowest validation loss."""
    losses = history.get("val_loss", [])
    return None if patience is None or not losses else min(range(len(losses)), key=losses.__getitem__)


def report(status: str, history: dict[str, list[float]], patience: int | None, check: dict[str, Any] | None,
           folder: Path, written: list[str]) -> None:
    """The closing lines on stderr: status and final numbers, the best epoch, the check, the files."""
    finals = ", ".join(f"{key} {values[-1]:.4g}" for key, values in history.items() if values)
    print(f"{status} after {len(history.get('loss', []))} epochs: {finals}", file=sys.stderr)
    best = best_epoch(history, patience)
    if best is not None:
        numbers = ", ".join(f"{key} {values[best]:.4g}" for key, values in history.items() if key != "loss")
        print(f"the weights are epoch {best + 1}'s, the lowest validation loss: {numbers}", file=sys.stderr)
    if check is not None and "max_relative_difference" in check:
        caveat = f" ({check['caveat']})" if check.get("caveat") else ""
        print(f"gradient check (float64, {check['samples']} samples): largest relative difference "
              f"{check['max_relative_difference']:.2e}{caveat}", file=sys.stderr)
    print(f"wrote {', '.join(written)} into {folder}", file=sys.stderr)
