"""Records to padded tensors: the last stage of the data pipeline, and the only form models ever see.

Memory holds the most recent ``memory_size`` statements, oldest first, left-aligned. ``time`` gives each slot its
distance from the question (1 = the most recent statement, as Sukhbaatar et al. 2015 §4.1 index sentences in
reverse order) and 0 for an empty slot, so ``time > 0`` is the memory mask.

Mixed-type memories: a statement written ``KB: <fact>`` (for instance ``3 KB: the kitchen is north of the
garden.`` in a bAbI-format file) is a knowledge-base fact rather than a story sentence. ``kind`` marks it (1; story
sentences 0) and the marker itself is not encoded. Models without memory types ignore ``kind``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from memnets.data.babi import QARecord, tokenize
from memnets.data.vocab import Vocab

KB_MARKER = "KB:"  # a statement starting with it is a knowledge-base fact (memory type 1)


@dataclass
class Batch:
    """Padded tensors for N questions; index it with a tensor of question indices to take a batch."""

    story: torch.Tensor  # (N, M, J) word ids, 0 = padding
    query: torch.Tensor  # (N, Jq) word ids
    time: torch.Tensor  # (N, M) 1 = most recent statement, 0 = empty slot
    answer: torch.Tensor  # (N,) answer word id
    supports: torch.Tensor  # (N, S) memory slots of the supporting facts, -1 = none (or outside the memory)
    task: torch.Tensor  # (N,) bAbI task number
    kind: torch.Tensor | None = None  # (N, M) memory type of each slot: 0 story sentence, 1 KB fact (KB_MARKER)

    def __post_init__(self):
        if self.kind is None:
            self.kind = torch.zeros_like(self.time)

    def __len__(self) -> int:
        return self.answer.shape[0]

    def __getitem__(self, index: torch.Tensor) -> Batch:
        return Batch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def tensors(self, index: torch.Tensor | None = None, device: torch.device | str | None = None
                ) -> dict[str, torch.Tensor]:
        """The fields as a dict (what models' ``inputs`` and ``loss`` read), optionally indexed by ``index`` and
        moved to ``device``, plus ``rows``: the filled memory slots (see :func:`filled_rows`)."""
        picked = {f.name: getattr(self, f.name) for f in fields(self)}
        if index is not None:
            picked = {k: v[index] for k, v in picked.items()}
        picked["rows"] = filled_rows(picked["time"])
        return {k: v.to(device) for k, v in picked.items()} if device is not None else picked


def filled_rows(time: torch.Tensor, multiple: int = 128) -> torch.Tensor:
    """Flat indices of the filled slots of a batch: time (..., B, M) -> (..., N), ascending, for models that encode
    only those (most of a 50-slot memory is empty: 282 of 1,600 slots in a 32-question batch of bAbI 1k's 20 tasks).

    N is the largest count over the leading dims rounded up to ``multiple`` (so that few distinct shapes reach a
    compiled step); the entries past a batch's own count hold B * M, one past the last slot, which a model treats
    as an empty slot.
    """
    flat = (time > 0).flatten(-2)  # (..., B*M)
    slots = flat.shape[-1]
    count = int(flat.sum(-1).max()) if flat.numel() else 0
    n = min(slots, -(-max(count, 1) // multiple) * multiple)
    index = torch.where(flat, torch.arange(slots, device=flat.device), slots)  # (..., B*M) empty slots sort last
    return index.sort(-1).values[..., :n].contiguous()  # (..., N) contiguous: one layout for a compiled step


def pad_rows(rows: torch.Tensor, slots: int, widths: tuple[int, ...]) -> torch.Tensor:
    """``rows`` (..., N) from :func:`filled_rows`, padded with ``slots`` (entries that name no slot) to the smallest
    of ``widths`` that holds N, so that a compiled step meets few shapes; returned as it is when none does."""
    wide = [w for w in widths if w >= rows.shape[-1]]
    if not wide or min(wide) == rows.shape[-1]:
        return rows
    return torch.nn.functional.pad(rows, (0, min(wide) - rows.shape[-1]), value=slots)  # (..., W)


def vectorize(records: list[QARecord], vocab: Vocab, memory_size: int = 50) -> Batch:
    """Pad records into a :class:`Batch` of exactly M = ``memory_size`` memory slots (the model's slot count)."""
    if memory_size < 1:
        raise ValueError(f"memory_size must be at least 1, got {memory_size}")
    ids: dict[str, list[int]] = {}  # a story's sentences recur in every later question's record; encode once

    def encode(sentence: str) -> list[int]:
        if sentence not in ids:
            ids[sentence] = vocab.encode(tokenize(sentence.removeprefix(KB_MARKER))) or [1]
        return ids[sentence]

    stories, queries, supports = [], [], []
    for r in records:
        start = max(0, len(r.story) - memory_size)
        stories.append([encode(s) for s in r.story[start:]])
        queries.append(vocab.encode(tokenize(r.question)) or [1])
        supports.append([s - start for s in r.supports if s >= start])
    n = len(records)
    m = memory_size
    j = max(1, max((len(w) for s in stories for w in s), default=1))
    story = np.zeros((n, m, j), dtype=np.int64)
    time = np.zeros((n, m), dtype=np.int64)
    kind = np.zeros((n, m), dtype=np.int64)
    query = np.zeros((n, max(len(q) for q in queries)), dtype=np.int64)
    support = np.full((n, max(1, max(len(s) for s in supports))), -1, dtype=np.int64)
    for i, (s, q, sup) in enumerate(zip(stories, queries, supports)):
        for slot, words in enumerate(s):
            story[i, slot, : len(words)] = words
        time[i, : len(s)] = np.arange(len(s), 0, -1)
        kept = records[i].story[len(records[i].story) - len(s):]  # the statements in memory
        kind[i, : len(s)] = [sentence.startswith(KB_MARKER) for sentence in kept]
        query[i, : len(q)] = q
        support[i, : len(sup)] = sup
    answer = torch.tensor([vocab.index.get(r.answer, 1) for r in records])
    task = torch.tensor([r.task for r in records])
    return Batch(*(torch.from_numpy(a) for a in (story, query, time)), answer,
                 torch.from_numpy(support), task, torch.from_numpy(kind))
