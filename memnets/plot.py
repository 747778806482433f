"""Attention heatmaps: one column per hop (or MemNN lookup), one row per story sentence."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402


def plot_attention(found, question: str, path: str | Path) -> Path:
    """Save a heatmap of what each hop attended to (or each lookup scored), one row per story sentence, with each
    hop's or lookup's pick outlined. ``found`` is a ``memnets.experiment.Answer``."""
    path = Path(path)
    sentences, steps = found.sentences, len(found.weights)
    weights = [[found.weights[k][i] for k in range(steps)] for i in range(len(sentences))]  # (M, K)
    low, high = min(map(min, weights)), max(map(max, weights))
    fig, ax = plt.subplots(figsize=(3 + 1.1 * steps + 0.09 * max(map(len, sentences)), 1.2 + 0.38 * len(sentences)))
    image = ax.imshow(weights, cmap="Blues", aspect="auto", vmin=min(0.0, low), vmax=max(1e-9, high))
    ax.set_xticks(range(steps), [f"{found.step} {k + 1}" for k in range(steps)])
    ax.set_yticks(range(len(sentences)), sentences)
    ax.xaxis.tick_top()
    middle = (min(0.0, low) + high) / 2
    for i, row in enumerate(weights):
        for k, w in enumerate(row):
            ax.text(k, i, f"{w:.2f}", ha="center", va="center", fontsize=8, color="white" if w > middle else "black")
    for k, i in enumerate(found.chosen):
        if i is not None:
            ax.add_patch(plt.Rectangle((k - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5))
    ax.set_xlabel(f"Q: {question}   A: {found.answer}")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
