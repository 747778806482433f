"""LSTM reader baseline: the sequence-model row of Sukhbaatar et al., "End-To-End Memory Networks" (NIPS 2015),
Table 1 ("LSTM", 51.3% mean error on bAbI 1k, from Weston et al. 2015's baselines), kept for HMNet's comparison
(memnets issue #11).

``reads="words"`` (the default) is that row's reader: the story's words one by one, then the question's, through
one LSTM layer (``nn.LSTM`` over a packed sequence); the last hidden state predicts the answer word. Like the memory
networks it reads the most recent ``memory_size`` statements. ``reads="sentences"`` is the reader measured first:
each statement is one input, its words combined by the position encoding of §4.1, written as plain tensor
operations so that restarts train side by side under ``torch.func.vmap`` (which has no batching rule for
``nn.LSTM``: the word reader's restarts run one after another, see ``memnets.train.over_restarts``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from memnets.models.encoders import encode, position_weights, sentence_bags


@dataclass(frozen=True)
class LSTMConfig:
    vocab_size: int  # V, words including <nil> (id 0) and <unk> (id 1)
    embed_dim: int = 50  # d, the word embedding and hidden state size (ours; the paper does not print it)
    memory_size: int = 50  # the most recent statements read, as the memory networks' 50 slots (End-To-End §4.1)
    init_std: float = 0.1  # word embeddings drawn from N(0, 0.1^2), as End-To-End §4.2
    reads: str = "words"  # "words": the paper's word-level reader; "sentences": one input per statement
    # fields that checkpoints written before them lack take these values (what those checkpoints were trained as)
    EARLIER: ClassVar[dict] = {"reads": "sentences"}

    def __post_init__(self):
        if self.reads not in ("words", "sentences"):
            raise ValueError(f"reads must be 'words' or 'sentences', got {self.reads!r}")
        for name in ("vocab_size", "embed_dim", "memory_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class LSTMOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) answer scores
    attention: tuple[torch.Tensor, ...]  # empty: a sequence reader attends to nothing


class LSTMReader(nn.Module):
    """An LSTM over the story (word by word, or statement by statement), then the question; the last hidden state
    answers."""

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        v, d = config.vocab_size, config.embed_dim
        self.vmappable = config.reads == "sentences"  # nn.LSTM has no vmap batching rule
        self.embed = nn.Parameter(torch.randn(1, v, d) * config.init_std)  # (1, V, d) words
        with torch.no_grad():
            self.embed[:, 0] = 0
        bound = 1 / math.sqrt(d)
        if config.reads == "words":
            self.rnn = nn.LSTM(d, d, batch_first=True)  # weights U(-1/sqrt(d), 1/sqrt(d)), gates i, f, g, o
            with torch.no_grad():
                self.rnn.bias_ih_l0[d: 2 * d] += 1.0  # forget gate starts open (Jozefowicz et al. 2015)
        else:
            self.input_map = nn.Parameter(torch.empty(d, 4 * d).uniform_(-bound, bound))  # W_{i,f,g,o}
            self.state_map = nn.Parameter(torch.empty(d, 4 * d).uniform_(-bound, bound))  # U_{i,f,g,o}
            bias = torch.zeros(1, 4 * d)
            bias[:, d: 2 * d] = 1.0  # forget gate starts open (Jozefowicz et al. 2015)
            self.bias = nn.Parameter(bias)
        self.answer_map = nn.Parameter(torch.empty(d, v).uniform_(-bound, bound))  # (d, V)

    def forward(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor) -> LSTMOutput:
        """story (B, M, J), query (B, Jq) word ids; time (B, M) 0 for empty slots (slots oldest first)."""
        cfg = self.config
        h = self.read_words(story, query, time) if cfg.reads == "words" else self.read_sentences(story, query, time)
        logits = h @ self.answer_map  # (B, V)
        logits = logits.masked_fill(torch.arange(cfg.vocab_size, device=story.device) == 0, float("-inf"))
        return LSTMOutput(logits, ())

    def read_words(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """The last hidden state after the story's words, oldest first, and then the question's: (B, d)."""
        b = story.shape[0]
        words = torch.cat([(story * (time > 0).unsqueeze(-1)).reshape(b, -1), query], 1)  # (B, M*J + Jq), 0 = none
        order = (words == 0).to(torch.uint8).argsort(dim=-1, stable=True)  # (B, T0) each row's words first, in order
        words = words.gather(1, order)
        lengths = (words != 0).sum(-1)  # (B,) at least the question's one word
        words = words[:, : int(lengths.max())]  # (B, T)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed[0][words], lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, (h, _) = self.rnn(packed)  # h (1, B, d): each story's state after its last word
        return h[0]

    def read_sentences(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """The last hidden state after one input per statement (position-encoded), then the question: (B, d)."""
        cfg = self.config
        weights = position_weights(self.embed, True)  # (1, 2V, d)
        sentences = encode(sentence_bags(story, cfg.vocab_size, "position"), weights)[..., 0, :]  # (B, M, d)
        question = encode(sentence_bags(query, cfg.vocab_size, "position"), weights)[:, 0]  # (B, d)
        inputs = torch.cat([sentences, question.unsqueeze(1)], 1) @ self.input_map + self.bias  # (B, M+1, 4d)
        filled = torch.cat([time > 0, torch.ones_like(time[:, :1], dtype=torch.bool)], 1)  # (B, M+1)
        d = cfg.embed_dim
        h = c = story.new_zeros(story.shape[0], d, dtype=torch.float32)  # (B, d)
        for i in range(inputs.shape[1]):
            i_gate, f_gate, g, o_gate = (inputs[:, i] + h @ self.state_map).split(d, -1)  # (B, d) each
            new_c = torch.sigmoid(f_gate) * c + torch.sigmoid(i_gate) * torch.tanh(g)
            new_h = torch.sigmoid(o_gate) * torch.tanh(new_c)
            keep = filled[:, i: i + 1]  # (B, 1) an empty slot leaves the state as it was
            h, c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
        return h

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = False

    def inputs(self, batch: dict[str, torch.Tensor], linear: bool | torch.Tensor, supervised: bool) -> dict:
        """Keyword arguments of ``forward``: the story and question (no linear start, no supporting facts)."""
        return {"story": batch["story"], "query": batch["query"], "time": batch["time"]}

    def loss(self, out: LSTMOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy summed over the batch, and the number of wrong answers."""
        answer = batch["answer"]
        return F.cross_entropy(out.logits, answer, reduction="sum"), (out.logits.argmax(-1) != answer).sum()
