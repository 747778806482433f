"""Attention heatmaps: one column per hop, one row per story sentence."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402


def plot_attention(sentences: list[str], attention: list[list[float]], question: str, answer: str,
                   path: str | Path) -> Path:
    """Save a heatmap of ``attention`` (one list per hop, one weight per sentence) labelled with the sentences."""
    path = Path(path)
    hops = len(attention)
    weights = [[attention[k][i] for k in range(hops)] for i in range(len(sentences))]  # (M, K)
    fig, ax = plt.subplots(figsize=(3 + 1.1 * hops + 0.09 * max(map(len, sentences)), 1.2 + 0.38 * len(sentences)))
    image = ax.imshow(weights, cmap="Blues", aspect="auto", vmin=0.0, vmax=max(1e-9, max(map(max, weights))))
    ax.set_xticks(range(hops), [f"hop {k + 1}" for k in range(hops)])
    ax.set_yticks(range(len(sentences)), sentences)
    ax.xaxis.tick_top()
    for i, row in enumerate(weights):
        for k, w in enumerate(row):
            ax.text(k, i, f"{w:.2f}", ha="center", va="center", fontsize=8, color="white" if w > 0.5 else "black")
    ax.set_xlabel(f"Q: {question}   A: {answer}")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
