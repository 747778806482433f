"""The memory networks, one per file. ``MODELS`` maps a checkpoint's model name to its config and class.

Every model follows :class:`Trainable`, the surface the training loop and evaluation use, so the loop has no
branch on which model it trains.
"""
from __future__ import annotations

from typing import Any, Protocol

import torch

from memnets.models.hmn import HMNet, HMNetConfig
from memnets.models.lstm import LSTMConfig, LSTMReader
from memnets.models.memn2n import MemN2N, MemN2NConfig
from memnets.models.kvmemnn import KVMemNN, KVMemNNConfig
from memnets.models.memnn import MemNN, MemNNConfig
from memnets.models.transformer import SentenceTransformer, TransformerConfig

MODELS = {"memn2n": (MemN2NConfig, MemN2N), "memnn": (MemNNConfig, MemNN), "kvmemnn": (KVMemNNConfig, KVMemNN),
          "hmn": (HMNetConfig, HMNet),  # and its two baselines (issue #11):
          "lstm": (LSTMConfig, LSTMReader), "transformer": (TransformerConfig, SentenceTransformer)}


class Trainable(Protocol):
    """What the training loop needs of a model besides ``forward`` and its parameters."""

    strongly_supervised: bool  # trained with the supporting facts; validation then answers without them

    def inputs(self, batch: dict[str, torch.Tensor], linear: torch.Tensor, supervised: bool) -> dict[str, Any]:
        """Keyword arguments of ``forward`` for a batch (the fields of ``memnets.data.tensors.Batch``).

        ``linear`` (a bool, or a 0-d bool tensor per restart) asks for the model's linear-start form, if it has
        one; ``supervised`` gives the model what it trains on (supporting facts for strong supervision).
        """

    def loss(self, output: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss summed over the batch, and the number of wrong answers, from ``forward``'s output."""
