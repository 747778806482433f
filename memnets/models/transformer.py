"""Transformer encoder baseline over a story's sentences (Vaswani et al., "Attention Is All You Need", NIPS 2017),
kept for HMNet's comparison (memnets issue #11; the article's related work names the Transformer).

Each statement is one token: its words combined by the position encoding of Sukhbaatar et al. (2015) §4.1, plus a
learned embedding of its recency (1 = the most recent statement). The question is one more token with a learned
segment embedding, and after ``layers`` pre-norm encoder layers (Xiong et al. 2020's placement of the layer norm,
which trains without a warm-up) its output predicts the answer word. Attention is written with plain tensor
operations (not nn.MultiheadAttention) so that restarts train side by side under ``torch.func.vmap``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from memnets.models.encoders import encode, position_weights, sentence_bags


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int  # V, words including <nil> (id 0) and <unk> (id 1)
    embed_dim: int = 40  # d_model (ours: small, for the 1k tasks)
    layers: int = 2  # encoder layers (ours)
    heads: int = 2  # attention heads; d must divide by it (Vaswani et al. §3.2.2 uses 8 of d = 512)
    memory_size: int = 50  # the most recent statements, as the memory networks' 50 slots
    init_std: float = 0.1  # word embeddings drawn from N(0, 0.1^2), as End-To-End §4.2

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "layers", "heads", "memory_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim {self.embed_dim} must be a multiple of heads {self.heads}")


class TransformerOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) answer scores
    attention: tuple[torch.Tensor, ...]  # one (B, M) per layer: the question token's attention over statements,
    # averaged over heads


def weight(fan_in: int, fan_out: int, *lead: int) -> nn.Parameter:
    bound = 1 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*lead, fan_in, fan_out).uniform_(-bound, bound))


class SentenceTransformer(nn.Module):
    """Pre-norm Transformer encoder over [statements..., question]; the question's output answers."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        c, d, n = config, config.embed_dim, config.layers
        self.embed = nn.Parameter(torch.randn(1, c.vocab_size, d) * c.init_std)  # (1, V, d) words
        with torch.no_grad():
            self.embed[:, 0] = 0
        self.recency = nn.Parameter(torch.randn(c.memory_size, d) * c.init_std)  # (M, d) statement age
        self.question_segment = nn.Parameter(torch.randn(1, d) * c.init_std)  # marks the question token
        self.qkv = weight(d, 3 * d, n)  # (L, d, 3d) W_Q, W_K, W_V
        self.attn_out = weight(d, d, n)  # (L, d, d) W_O
        self.ff_in = weight(d, 2 * d, n)  # (L, d, 2d)
        self.ff_in_bias = nn.Parameter(torch.zeros(n, 1, 2 * d))
        self.ff_out = weight(2 * d, d, n)  # (L, 2d, d)
        self.ff_out_bias = nn.Parameter(torch.zeros(n, 1, d))
        self.norm_scale = nn.Parameter(torch.ones(n, 2, d))  # the two layer norms of each layer
        self.norm_bias = nn.Parameter(torch.zeros(n, 2, d))
        self.answer_map = weight(d, c.vocab_size)  # (d, V)

    def forward(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor) -> TransformerOutput:
        """story (B, M, J), query (B, Jq) word ids; time (B, M): 1 = most recent statement, 0 = empty slot."""
        cfg = self.config
        b, m, _ = story.shape
        d, heads = cfg.embed_dim, cfg.heads
        weights = position_weights(self.embed, True)  # (1, 2V, d)
        sentences = encode(sentence_bags(story, cfg.vocab_size, "position"), weights)[..., 0, :]  # (B, M, d)
        sentences = sentences + self.recency[(time - 1).clamp(0, cfg.memory_size - 1)]
        question = encode(sentence_bags(query, cfg.vocab_size, "position"), weights)[:, 0] + self.question_segment
        x = torch.cat([sentences, question.unsqueeze(1)], 1)  # (B, M+1, d) the question last
        keys_kept = torch.cat([time > 0, torch.ones_like(time[:, :1], dtype=torch.bool)], 1)  # (B, M+1)
        attention = []
        for layer in range(cfg.layers):
            y = F.layer_norm(x, (d,), self.norm_scale[layer, 0], self.norm_bias[layer, 0])
            q, k, v = (y @ self.qkv[layer]).view(b, m + 1, 3 * heads, d // heads).transpose(1, 2).split(heads, 1)
            scores = q @ k.transpose(-1, -2) / math.sqrt(d // heads)  # (B, H, M+1, M+1)
            p = scores.masked_fill(~keys_kept.view(b, 1, 1, m + 1), float("-inf")).softmax(-1)
            attention.append(p[:, :, -1, :m].mean(1))  # (B, M) what the question token read
            mixed = (p @ v).transpose(1, 2).reshape(b, m + 1, d)  # (B, M+1, d)
            x = x + mixed @ self.attn_out[layer]
            y = F.layer_norm(x, (d,), self.norm_scale[layer, 1], self.norm_bias[layer, 1])
            x = x + torch.relu(y @ self.ff_in[layer] + self.ff_in_bias[layer]) @ self.ff_out[layer] \
                + self.ff_out_bias[layer]
        logits = x[:, -1] @ self.answer_map  # (B, V)
        logits = logits.masked_fill(torch.arange(cfg.vocab_size, device=story.device) == 0, float("-inf"))
        return TransformerOutput(logits, tuple(attention))

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = False

    def inputs(self, batch: dict[str, torch.Tensor], linear: bool | torch.Tensor, supervised: bool) -> dict:
        """Keyword arguments of ``forward``: the story and question (no linear start, no supporting facts)."""
        return {"story": batch["story"], "query": batch["query"], "time": batch["time"]}

    def loss(self, out: TransformerOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy summed over the batch, and the number of wrong answers."""
        answer = batch["answer"]
        return F.cross_entropy(out.logits, answer, reduction="sum"), (out.logits.argmax(-1) != answer).sum()
