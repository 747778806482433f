"""Key-Value Memory Network: Miller, Fisch, Dodge, Karimi, Bordes, Weston, "Key-Value Memory Networks for Directly
Reading Documents", EMNLP 2016.

Memories are (key, value) pairs of symbol bags. A question x is embedded as q = A Φ_X(x); each of H hops
addresses the keys, p_h = softmax(q · A Φ_K(k_h)) (§3.1, eq. 1), reads the values, o = Σ_h p_h A Φ_V(v_h)
(eq. 2), and updates the query, q_{j+1} = R_j (q_j + o) (§3.1). The answer scores candidates y as
q_{H+1} · B Φ_Y(y) (eq. 3), trained with cross-entropy over them. Φ is a bag of symbols: a multi-word entity is one
symbol, so a KB key "Kismet directed_by" is two. The model reads padded tensors only (``memnets.data.kb``).

For memories too many to pre-select (the whole knowledge base as one memory), :func:`address_with_index` runs the
same hops with each addressing step answered by a maximum-inner-product index (FAISS) over all keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

MASKED = -1e9  # score of an empty memory slot or a non-candidate: finite, so masked sums never give NaN


@dataclass(frozen=True)
class KVMemNNConfig:
    vocab_size: int  # symbols: <nil>, <unk>, the entities (ids 2 .. 2 + E - 1), then relations and words
    entities: int = 1  # E, the answer candidates of "all" (§3.1: the entities); sized to the data
    embed_dim: int = 100  # d; the paper selects it on validation data (§5), our sources do not print its value
    hops: int = 2  # H = 2 in the KB setting (§5.1)
    memory_size: int = 1000  # most memories per question after key hashing (§3.1); fewer if none needs them
    tie_answer: bool = False  # B = A: the paper learns B apart (§3.1); see memnets.experiment's MetaQA preset
    candidates: str = "all"  # "all": every entity (§3.1); "memory": the entities among the question's values
    freeze_entities: bool = False  # keep the entities' rows of A at their random start (the paper learns them)
    learn_hop_maps: bool = True  # R_1..R_H learned (§3.1); False: R_j = I, so q_{j+1} = q_j + o
    init_std: float = 0.1  # N(0, 0.1^2) initial embeddings, as the End-To-End model (Sukhbaatar et al. §4.2)

    def __post_init__(self):
        if self.candidates not in ("all", "memory"):
            raise ValueError(f"candidates must be 'all' or 'memory', got {self.candidates!r}")
        for name in ("vocab_size", "entities", "embed_dim", "hops", "memory_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class KVMemNNOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) answer scores; MASKED for symbols that are no candidate
    attention: tuple[torch.Tensor, ...]  # H tensors (B, M): each hop's key addressing weights p_h


def bag(embedding: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Φ then the embedding: the sum of the symbols' embeddings, id 0 (padding) adding nothing. (..., L) -> (..., d)"""
    return F.embedding(ids, embedding, padding_idx=0).sum(-2)


class KVMemNN(nn.Module):
    """H-hop Key-Value Memory Network: A embeds questions, keys and values (§3.1), R_1..R_H update the query,
    B embeds the answer candidates (A itself with ``tie_answer``)."""

    def __init__(self, config: KVMemNNConfig):
        super().__init__()
        self.config = config
        v, d, std = config.vocab_size, config.embed_dim, config.init_std
        self.embed = nn.Parameter(torch.randn(v, d) * std)  # A (§3.1), one row per symbol
        self.answer_embed = None if config.tie_answer else nn.Parameter(torch.randn(v, d) * std)  # B (§3.1)
        # R_j (§3.1), starting as the identity so that early training reads q + o (ours; the paper is silent)
        self.hop_maps = None
        if config.learn_hop_maps:
            noise = torch.randn(config.hops, d, d) * std / 10
            self.hop_maps = nn.Parameter(torch.eye(d).repeat(config.hops, 1, 1) + noise)  # (H, d, d)
        with torch.no_grad():  # padding embeds to zero and stays so (bag's padding_idx gives it no gradient)
            self.embed[0] = 0
            if self.answer_embed is not None:
                self.answer_embed[0] = 0

    def symbol_matrix(self) -> torch.Tensor:
        """A (V, d); with ``freeze_entities`` the entity rows pass no gradient, so they stay random codes that
        reading a value copies into the query, however rarely an entity was seen in training."""
        if not self.config.freeze_entities:
            return self.embed
        ids = torch.arange(self.embed.shape[0], device=self.embed.device)  # (V,)
        is_entity = ((ids >= 2) & (ids < 2 + self.config.entities)).unsqueeze(-1)  # (V, 1)
        return torch.where(is_entity, self.embed.detach(), self.embed)

    def forward(self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> KVMemNNOutput:
        """Answer scores and each hop's addressing weights.

        keys (B, M, Lk) and values (B, M, Lv) hold the symbol ids of each question's memories (a slot whose key
        is all padding is empty and gets no weight); query (B, Lq) the question's symbols.
        """
        cfg = self.config
        filled = (keys != 0).any(-1)  # (B, M) False for empty slots
        embed = self.symbol_matrix()  # (V, d) A
        key_vectors = bag(embed, keys)  # (B, M, d) A Φ_K(k_h)
        value_vectors = bag(embed, values)  # (B, M, d) A Φ_V(v_h)
        q = bag(embed, query)  # (B, d) q_1 = A Φ_X(x)
        attention = []
        for j in range(cfg.hops):
            scores = (key_vectors * q.unsqueeze(1)).sum(-1).masked_fill(~filled, MASKED)  # (B, M) q · A Φ_K(k_h)
            p = scores.softmax(-1)  # (B, M) p_h, eq. (1)
            o = (p.unsqueeze(-1) * value_vectors).sum(1)  # (B, d) o = Σ p_h A Φ_V(v_h), eq. (2)
            q = self.update(q + o, j)  # (B, d) q_{j+1} = R_j (q_j + o)
            attention.append(p)
        return KVMemNNOutput(self.score(q, values, filled, embed), tuple(attention))

    def update(self, q: torch.Tensor, j: int) -> torch.Tensor:
        """R_j q (B, d), or q itself without learned hop maps."""
        return q if self.hop_maps is None else q @ self.hop_maps[j].T

    def score(self, q: torch.Tensor, values: torch.Tensor, filled: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        """q_{H+1} · B Φ_Y(y) for every candidate y (eq. 3); (B, d), (B, M, Lv), (B, M), A (V, d) -> (B, V)."""
        cfg = self.config
        matrix = embed if self.answer_embed is None else self.answer_embed  # (V, d) B
        first, last = 2, 2 + cfg.entities  # entity ids
        if cfg.candidates == "all":
            ids = torch.arange(matrix.shape[0], device=q.device)  # (V,)
            is_entity = (ids >= first) & (ids < last)
            return (q @ matrix.T).masked_fill(~is_entity, MASKED)  # (B, V)
        is_candidate = (values >= first) & (values < last) & filled.unsqueeze(-1)  # (B, M, Lv)
        per_slot = (F.embedding(values, matrix) * q[:, None, None]).sum(-1)  # (B, M, Lv) q · B y
        per_slot = per_slot.masked_fill(~is_candidate, MASKED).flatten(1)  # (B, M * Lv)
        # every write to one symbol's column carries the same score (or MASKED for non-candidates, which an
        # entity never is), so the order of the scatter's writes does not matter
        logits = per_slot.new_full((q.shape[0], matrix.shape[0]), MASKED)  # (B, V)
        return logits.scatter(1, values.flatten(1), per_slot)

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = False  # trained on question-answer pairs only

    def inputs(self, batch: dict[str, torch.Tensor], linear, supervised: bool) -> dict:
        """Keyword arguments of ``forward`` (``memnets.data.kb.KBBatch``); there is no linear-start form."""
        return {"keys": batch["keys"], "values": batch["values"], "query": batch["query"]}

    def loss(self, out: KVMemNNOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy of the gold answers, summed over the batch, and the number of questions whose top answer
        is none of them (1 - hits@1). With several gold answers any counts: the loss is -log Σ_gold softmax.
        A question none of whose answers is a candidate (not in its memories) adds no loss."""
        answer = batch["answer"]  # (B, A) -1 = padding
        gold = out.logits.gather(1, answer.clamp(min=0))  # (B, A)
        usable = (answer >= 0) & (gold > MASKED / 2)  # (B, A)
        gold_lse = gold.masked_fill(~usable, MASKED).logsumexp(-1)  # (B,)
        per_question = out.logits.logsumexp(-1) - gold_lse  # (B,)
        loss = torch.where(usable.any(-1), per_question, torch.zeros_like(per_question)).sum()
        hit = (answer == out.logits.argmax(-1, keepdim=True)).any(-1)  # (B,)
        return loss, (~hit).sum()


# ---------------------------------------------------------------------------------------- large memories


@torch.no_grad()
def address_with_index(model: KVMemNN, query: torch.Tensor, key_vectors: torch.Tensor, value_vectors: torch.Tensor,
                       value_ids: torch.Tensor, index, top_k: int):
    """The hops of ``model`` over one memory of T memories, each addressing step reading the ``top_k`` keys that
    ``index`` returns for q_j (§3.1's softmax over those keys only; the rest would get almost no weight).

    query (B, Lq) symbol ids; key_vectors, value_vectors (T, d) = A Φ_K(k), A Φ_V(v) of every memory; value_ids
    (T, Lv); ``index`` is anything with FAISS's ``search(x, k) -> (scores, ids)`` built on key_vectors.
    Returns (logits (B, V), per hop the (B, top_k) memory ids read, per hop the query vectors (B, d) searched).
    """
    q = bag(model.symbol_matrix(), query)  # (B, d)
    read, searched = [], []
    for j in range(model.config.hops):
        searched.append(q)
        _, ids = index.search(q.float().contiguous().numpy(), top_k)
        ids = torch.from_numpy(ids).clamp(min=0)  # (B, k) FAISS pads a short result with -1
        scores = (key_vectors[ids] * q.unsqueeze(1)).sum(-1)  # (B, k)
        p = scores.softmax(-1)
        q = model.update(q + (p.unsqueeze(-1) * value_vectors[ids]).sum(1), j)  # (B, d)
        read.append(ids)
    values = value_ids[read[-1]]  # (B, k, Lv): the candidates of "memory" are the values last read
    filled = torch.ones(values.shape[:2], dtype=torch.bool, device=values.device)  # (B, k) every read slot is real
    return model.score(q, values, filled, model.symbol_matrix()), read, searched


@torch.no_grad()
def table_vectors(model: KVMemNN, table: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """A Φ(row) of every row of a (T, L) symbol-id table: (T, d)."""
    embed = model.symbol_matrix()
    return torch.cat([bag(embed, table[i:i + chunk]) for i in range(0, table.shape[0], chunk)])
