"""End-To-End Memory Network (MemN2N): Sukhbaatar, Szlam, Weston, Fergus, "End-To-End Memory Networks", NIPS 2015.

A question's embedding u attends over the story's memory vectors m_i, reads a weighted sum o of output vectors
c_i, and updates u <- u + o (§2.1); K such hops are stacked (§2.2) and the final u predicts the answer word through
W. The model takes padded tensors only (``memnets.data.tensors``); training settings (linear start, random noise,
schedules) live in ``memnets.train``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from memnets.models.encoders import encode, position_weights, sentence_bags


# With ``rows`` given, only the filled slots are encoded when they are at most this fraction of all slots: the
# joint model's batches fill about 18% of 50 slots (282 of 1,600; its step is 1.8-2.8x faster for it,
# docs/results/joint-step.md), while task 1's memories are mostly full and the extra gathers and scatters would
# cost more than they save.
PACK_BELOW = 0.5


@dataclass(frozen=True)
class MemN2NConfig:
    vocab_size: int  # V, words including <nil> (id 0) and <unk> (id 1)
    embed_dim: int = 20  # d: 20 per task, 50 joint (§4.2)
    hops: int = 3  # K (§2.2; Table 1 uses 3)
    memory_size: int = 50  # memory slots: the most recent sentences (§4.1); stories shorter leave slots empty
    # "position-released" (the authors' code's PE, build_model.m) reproduces Table 1; "position" is the formula
    # printed in §4.1, with which task 16 is never learned (README, "Position encoding"); "bow" is bag of words
    encoding: str = "position-released"
    sentence_size: int = 0  # J of "position-released": the longest sentence + 1 (authors' build_model.m)
    temporal: bool = True  # temporal encoding T_A, T_C (§4.1)
    tying: str = "adjacent"  # "adjacent" or "layerwise" (RNN-like) weight tying (§2.2)
    relu: bool = False  # ReLU on the controller after each hop: Table 1's 10k "PE LS RN*" row, d = 100
    init_std: float = 0.1  # weights drawn from N(0, 0.1^2) (§4.2)

    def __post_init__(self):
        if self.encoding not in ("bow", "position", "position-released"):
            raise ValueError(f"encoding must be 'bow', 'position' or 'position-released', got {self.encoding!r}")
        if self.encoding == "position-released" and self.sentence_size < 1:
            raise ValueError(f"encoding 'position-released' needs sentence_size >= 1 (the longest sentence + 1), "
                             f"got {self.sentence_size}; or choose encoding 'position' or 'bow'")
        if self.tying not in ("adjacent", "layerwise"):
            raise ValueError(f"tying must be 'adjacent' or 'layerwise', got {self.tying!r}")
        for name in ("vocab_size", "embed_dim", "hops", "memory_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class MemN2NOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) answer scores over the vocabulary
    attention: tuple[torch.Tensor, ...]  # K tensors (B, M): each hop's weights p_i over memory slots


class MemN2N(nn.Module):
    """K-hop End-To-End Memory Network.

    Embedding matrices are stored stacked in ``embed`` (n, V, d) so that one matrix product encodes the memory
    with all of them at once:
      adjacent tying (§2.2): n = K + 1, embed[0] = A_1 = B, embed[k] = C_k = A_{k+1}, embed[K] = C_K = W^T;
      layer-wise tying (§2.2): n = 2, embed[0] = A_1 = ... = A_K, embed[1] = C_1 = ... = C_K, with separate B
      (``query_embed``), W (``answer_embed``) and the map H between hops (u_{k+1} = H u_k + o_k).
    The temporal matrices T_A, T_C (§4.1) are tied the same way in ``temporal`` (n, memory_size, d).
    """

    def __init__(self, config: MemN2NConfig):
        super().__init__()
        self.config = config
        v, d, std = config.vocab_size, config.embed_dim, config.init_std
        n = config.hops + 1 if config.tying == "adjacent" else 2
        self.embed = nn.Parameter(torch.randn(n, v, d) * std)  # A and C matrices, see the class docstring
        self.temporal = nn.Parameter(torch.randn(n, config.memory_size, d) * std) if config.temporal else None
        if config.tying == "layerwise":
            self.query_embed = nn.Parameter(torch.randn(1, v, d) * std)  # B
            self.answer_embed = nn.Parameter(torch.randn(v, d) * std)  # W (V, d)
            self.hop_map = nn.Parameter(torch.randn(d, d) * std)  # H
        with torch.no_grad():  # the nil word's embedding is zero and stays so: it gets no gradient
            self.embed[:, 0] = 0
            if config.tying == "layerwise":
                self.query_embed[:, 0] = 0

    def forward(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor,
                linear: bool | torch.Tensor = False, rows: torch.Tensor | None = None) -> MemN2NOutput:
        """Answer scores and per-hop attention.

        story (B, M, J) and query (B, Jq) hold word ids (0 = padding); time (B, M) holds each slot's temporal
        index (1 = most recent statement, 0 = empty slot). ``linear`` removes the softmax from every hop (linear
        start, §4.2); it may be a bool tensor so that a batch of restarts can switch separately under vmap.
        ``rows`` (N,), optional, lists the filled slots as flat indices into B*M (``memnets.data.tensors
        .filled_rows``; B*M for padding): only those are encoded (when N <= PACK_BELOW * B*M), the same result
        at a fraction of the cost when most slots are empty. Without it every slot is encoded.

        An empty slot is a nil memory, as in the authors' code: a zero vector that scores 0 and still takes part
        in the softmax, so attention has somewhere to go when nothing in the story matches. Masking empty slots
        out instead cost 7 to 11 points of test error on bAbI tasks 6 and 10 in our runs.
        """
        cfg = self.config
        b, m, j = story.shape
        position = cfg.encoding != "bow"
        encoding = (cfg.encoding, cfg.embed_dim, cfg.sentence_size)
        words, slot_time = story.reshape(b * m, j), time.reshape(b * m)  # (B*M, J), (B*M,) every slot
        packed = rows is not None and rows.shape[-1] <= PACK_BELOW * b * m
        if packed:  # the filled slots only; padding entries (B*M) read the last slot, as an empty one
            slot = rows.clamp(max=b * m - 1)  # (N,)
            words, slot_time = words[slot], slot_time[slot] * (rows < b * m)  # (N, J), (N,) padding: time 0
        words = words * (slot_time > 0).unsqueeze(-1)  # a slot of time 0 (empty, or padding) encodes to 0
        # The questions are encoded in the same product as the memories, as B more rows (padded to one width):
        # with adjacent tying B = A_1, embed[0]; with layer-wise tying B is a matrix of its own, stacked last.
        width = max(j, query.shape[-1])
        ids = torch.cat([F.pad(words, (0, width - j)), F.pad(query, (0, width - query.shape[-1]))])  # (N+B, J')
        matrices = self.embed if cfg.tying == "adjacent" else torch.cat([self.embed, self.query_embed])  # (n', V, d)
        q_matrix = 0 if cfg.tying == "adjacent" else matrices.shape[0] - 1
        weights = position_weights(matrices, position)  # (n', P*V, d)
        # T_A(i), T_C(i): time 0 (an empty slot, or a question) adds nothing; a time past the memory (random
        # noise) the last row. Every slot: the slot's time joins the product as a one-hot feature (a gather and
        # its backward cost a fifth of task 1's eager step). Filled slots only: their rows are picked (the one-hot
        # features made the joint step 6-9% slower, docs/results/joint-step-temporal.md).
        one_hot = self.temporal is not None and not packed
        if one_hot:
            temporal = self.temporal if cfg.tying == "adjacent" else F.pad(self.temporal, (0, 0, 0, 0, 0, 1))
            weights = torch.cat([weights, temporal], 1)  # (n', P*V + M, d)
            features = sentence_bags(ids, cfg.vocab_size, *encoding, time=F.pad(slot_time, (0, b)),
                                     memory_size=cfg.memory_size)  # (N+B, P*V + M)
        else:
            features = sentence_bags(ids, cfg.vocab_size, *encoding)  # (N+B, P*V)
        encoded = encode(features, weights)  # (N+B, n', d) m_i or c_i in every matrix, plus T_A(i) or T_C(i)
        encoded, u = encoded.split([encoded.shape[0] - b, b])  # (N, n', d) memories, (B, n', d) questions
        u = u[:, q_matrix]  # (B, d) u_1 = B q
        if self.temporal is not None and packed:
            filled = (slot_time > 0).unsqueeze(-1).to(torch.float32)  # (N, 1) 0 for padding rows
            slot_rows = self.temporal.transpose(0, 1)[(slot_time - 1).clamp(0, cfg.memory_size - 1)]  # (N, n, d)
            encoded = encoded[:, :slot_rows.shape[1]] + slot_rows * filled.unsqueeze(-1)
        answer_matrix = self.embed[-1] if cfg.tying == "adjacent" else self.answer_embed  # W^T = C_K, or W

        if packed:  # scores and reads of the encoded rows, added into every slot (padding rows add zeros)
            memory = encoded.unbind(-2)  # n tensors (N, d) of the encoded slots
            story_of_row = slot // m  # (N,) each row's question

            def slot_scores(mem, u):  # (N, d), (B, d) -> (B, M); an empty slot scores 0
                row_scores = (mem * u[story_of_row]).sum(-1)  # (N,)
                return row_scores.new_zeros(b * m).index_add(0, slot, row_scores).view(b, m)

            def read(p, out):  # (B, M), (N, d) -> (B, d)
                row_p = p.reshape(b * m)[slot].unsqueeze(-1)  # (N, 1)
                return out.new_zeros(b, out.shape[1]).index_add(0, story_of_row, row_p * out)
        else:
            memory = encoded.view(b, m, -1, cfg.embed_dim).unbind(-2)  # n' tensors (B, M, d)

            def slot_scores(mem, u):  # (B, M, d), (B, d) -> (B, M); as fast as bmm forward, 2.5x backward
                return (mem * u.unsqueeze(1)).sum(-1)

            def read(p, out):  # (B, M), (B, M, d) -> (B, d)
                return (p.unsqueeze(-1) * out).sum(1)

        attention = []
        for k in range(cfg.hops):
            mem, out = (memory[k], memory[k + 1]) if cfg.tying == "adjacent" else (memory[0], memory[1])
            scores = slot_scores(mem, u)  # (B, M) u^T m_i
            if isinstance(linear, bool):  # one model: the branch taken in Python
                p = scores if linear else scores.softmax(-1)  # (B, M) p_i, eq. (1)
            else:  # a flag per restart (under vmap)
                p = torch.where(linear, scores, scores.softmax(-1))
            o = read(p, out)  # (B, d) o = sum_i p_i c_i, eq. (2)
            u = (u @ self.hop_map.T if cfg.tying == "layerwise" else u) + o  # (B, d) u_{k+1}, §2.2
            if cfg.relu:
                u = torch.relu(u)
            attention.append(p)
        logits = F.pad(u @ answer_matrix[1:].T, (1, 0), value=float("-inf"))  # (B, V) eq. (3); never <nil> (id 0)
        return MemN2NOutput(logits, tuple(attention))

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = False  # trained on question-answer pairs only (§1: "weakly supervised")

    def inputs(self, batch: dict[str, torch.Tensor], linear: bool | torch.Tensor, supervised: bool) -> dict:
        """Keyword arguments of ``forward``; the same with and without supervision, as no supporting fact is used."""
        return {"story": batch["story"], "query": batch["query"], "time": batch["time"], "linear": linear,
                "rows": batch.get("rows")}

    def loss(self, out: MemN2NOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy summed over the batch (as the authors' code), and the number of wrong answers."""
        answer = batch["answer"]
        return F.cross_entropy(out.logits, answer, reduction="sum"), (out.logits.argmax(-1) != answer).sum()
