"""Hierarchical Memory Network (HMNet): the design of memnets issue #11, after the article in
``../shared/seeds/000_29dcee832b7d35fa.txt``, which names three improvements over memory networks (one store for
several types of memory; attention in the input and output memory modules; sequence attention over regions of the
memory) and stops before any architecture. The parts below fill that gap; each can be switched off for the ablation.

1. Shared memory (article, first improvement): story sentences and knowledge-base facts are rows of one matrix,
   each the position-encoded sentence embedding (Sukhbaatar et al. 2015 §4.1) plus a learned memory-type embedding
   plus a learned temporal embedding. The model's own outputs (part 4) carry a third type embedding.
2. Parameter-free content read (article, input memory module): w = softmax(M u), read c = wᵀ M.
3. Attention GRU (article, attention in the input module; its form from DMN+, Xiong, Merity, Socher 2016, §3.3):
   a GRU runs over the rows oldest first and a softmax-normalised attention gate g_i, computed from
   [m∘u, |m−u|, m∘e, |m−e|] by a two-layer network, replaces its update gate; the last state is the episode e.
4. Output memory (article, attention in the output module): the controller states of earlier hops are written,
   through a learned map, into a second memory; each hop reads it by attention, with sinusoidal positions added
   (Vaswani et al. 2017 §3.5) so that the read knows which hop wrote what.
5. Region attention (article, sequence attention; a locally connected layer): rows are grouped, counted from the
   most recent, into regions of ``region_size``. Each region position has its own depthwise weights, and the
   weighted rows of a region are max-pooled (or summed) into its summary; α_r = softmax over region summaries,
   β_i|r = softmax within the region, and a row weighs α_r · β_i|r (the GRU gates factor the same way). With
   ``top_k`` regions kept, a hop touches R + k·s rows, not N.
6. Controller: an untied ReLU layer per hop (DMN+ §3.3 found it best), ReLU(W_t [u_{t-1}; q; c_t; e_t; h_t] + b_t),
   added to u_{t-1} + c_t (End-To-End's u + o, §2.1): with SGD, the loop's optimiser, the plain DMN+ form learned
   too slowly. The answer is a softmax over the vocabulary from [u_K; q].
7. Word embeddings (ours, from measurement): End-To-End's adjacent tying (§2.2), K + 1 embeddings, hop t addressing
   the rows in embedding t and reading them in embedding t + 1; trained with End-To-End's linear start (§4.2), which
   removes the softmaxes of the content read and the output memory (``linear``). Without either, no restart learned
   bAbI task 16 (docs/results/hmn-task16.md); ``tying="shared"`` is one embedding for everything, as before, and
   the default with region attention, where adjacent tying lost generated task 1 at 1,000 statements.

Everything is plain tensor arithmetic (the GRU too, instead of nn.GRU) so that restarts train side by side under
``torch.func.vmap``; no branch depends on the data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from memnets.models.encoders import encode, position_weights, sentence_bags

MASKED = -1e9  # a finite "minus infinity": a region without rows gets weight 0, never NaN
# Region attention (part 5) is on by default from this many memory rows. Ours, from measurement: on bAbI 1k (50
# rows), with region summaries then summed rather than max-pooled, removing it lowered the mean error of tasks 2,
# 11 and 14 from 22.7% to 14.6% (docs/results/hmn-ablation-regions.md), while without it the attention GRU runs
# over every row in sequence, a cost that grows with N and that long memories (hundreds to thousands of rows,
# docs/results/hmn-long.md) cannot pay.
REGIONS_FROM = 100
STORY, FACT, OUTPUT = 0, 1, 2  # memory types: story sentence, KB fact (``memnets.data.tensors.KB_MARKER``), output


@dataclass(frozen=True)
class HMNetConfig:
    # fields added after checkpoints were written, with the behaviour of those checkpoints (see
    # ``memnets.checkpoint.with_earlier_fields``): regions were summed before ``region_pool`` existed, and one
    # word embedding was shared before ``tying``
    EARLIER: ClassVar[dict] = {"region_pool": "sum", "tying": "shared"}
    vocab_size: int  # V, words including <nil> (id 0) and <unk> (id 1)
    embed_dim: int = 40  # d; DMN+ used 80 on 10k (§4.1); 40 is ours, for the 1k tasks
    hops: int = 3  # passes over the memory (DMN+ §4.1: 3 on bAbI)
    memory_size: int = 50  # rows: the most recent statements (as End-To-End §4.1); long memories raise it
    encoding: str = "position-released"  # sentence encoding, as memn2n's "encoding" (End-To-End §4.1)
    sentence_size: int = 0  # J of "position-released", sized from the data
    memory_types: bool = True  # part 1: learned embedding of each row's memory type
    temporal: bool = True  # part 1: learned temporal embedding of each row (End-To-End §4.1's T_A)
    content_read: bool = True  # part 2: the parameter-free read softmax(M u)ᵀ M
    attention_gru: bool = True  # part 3: the DMN+ attention GRU (Xiong et al. 2016 §3.3)
    output_memory: bool = True  # part 4: memory of earlier hops' states, read with sinusoidal positions
    regions: bool | None = None  # part 5: region attention α_r · β_i|r; off = one flat softmax over all rows;
    # None = on for memories of at least REGIONS_FROM rows (measured worse at bAbI's 50: see REGIONS_FROM)
    region_size: int = 10  # s, rows per region (ours)
    top_k: int = 0  # regions kept per hop (part 5); 0 = all of them
    region_pool: str = "max"  # how the locally connected layer pools a region's weighted rows: "max" or "sum".
    # Ours, from measurement: a sum dilutes the one row a question needs by the region's other rows. On generated
    # task 1 with 1,000 statements (regions of 32, top_k 2) hop 1 kept the supporting fact's region for 58.2% of
    # test questions with a sum (61.6% test error) and for all of them with max (13.0%; docs/results/hmn-pool.md)
    init_std: float = 0.1  # word embeddings drawn from N(0, 0.1^2), as End-To-End §4.2
    tying: str | None = None  # "adjacent": End-To-End's adjacent tying (§2.2), K + 1 embeddings, hop t addressing
    # rows of embedding t and reading them (content read, attention GRU) in embedding t + 1, the next hop's
    # addressing space; "shared": one word embedding for everything. None = adjacent without region attention (with
    # shared, no restart learned bAbI task 16: docs/results/hmn-task16.md) and shared with it (with adjacent,
    # generated task 1 with 1,000 statements stayed at chance, 86.0% against 11.8%: docs/results/hmn-long.md)

    def __post_init__(self):
        if self.regions is None:  # resolved once, so a checkpoint records what was trained
            object.__setattr__(self, "regions", self.memory_size >= REGIONS_FROM)
        if self.tying is None:
            object.__setattr__(self, "tying", "shared" if self.regions else "adjacent")
        if self.encoding not in ("bow", "position", "position-released"):
            raise ValueError(f"encoding must be 'bow', 'position' or 'position-released', got {self.encoding!r}")
        if self.encoding == "position-released" and self.sentence_size < 1:
            raise ValueError(f"encoding 'position-released' needs sentence_size >= 1, got {self.sentence_size}")
        for name in ("vocab_size", "embed_dim", "hops", "memory_size", "region_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.region_pool not in ("sum", "max"):
            raise ValueError(f"region_pool must be 'sum' or 'max', got {self.region_pool!r}")
        if self.tying not in ("shared", "adjacent"):
            raise ValueError(f"tying must be 'shared' or 'adjacent', got {self.tying!r}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (all regions) or a positive number of regions, got {self.top_k}")

    @property
    def region_count(self) -> int:
        """R: regions of ``region_size`` rows (one region of every row when region attention is off)."""
        return math.ceil(self.memory_size / self.region_size) if self.regions else 1

    @property
    def kept_regions(self) -> int:
        """k: the regions each hop reads (all of them unless ``top_k`` is set and region attention is on)."""
        r = self.region_count
        return min(self.top_k, r) if self.regions and self.top_k else r


class HMNetOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) answer scores
    attention: tuple[torch.Tensor, ...]  # K tensors (B, M): each hop's row weights α_r · β_i|r (part 2/5)
    regions: tuple[torch.Tensor, ...]  # K tensors (B, R): α_r, region 0 the most recent (part 5; () if off)
    gates: tuple[torch.Tensor, ...]  # K tensors (B, M): the attention GRU's gates g_i (part 3; () if off)
    output_attention: tuple[torch.Tensor, ...]  # K tensors (B, t): hop t's weights over states 0..t-1 (part 4)


def linear_weight(fan_in: int, fan_out: int, *lead: int) -> nn.Parameter:
    """A (…, fan_in, fan_out) weight drawn as PyTorch's nn.Linear draws its own: U(±1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*lead, fan_in, fan_out).uniform_(-bound, bound))


def sinusoids(n: int, d: int, device: torch.device) -> torch.Tensor:
    """(n, d) sinusoidal positions, Vaswani et al. (2017) §3.5: sin in even dimensions, cos in odd ones."""
    position = torch.arange(n, dtype=torch.float32, device=device).unsqueeze(1)  # (n, 1)
    rate = torch.exp(torch.arange(0, d, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: d // 2])
    return table


class AttentionGate(nn.Module):
    """The attention gate network of DMN+ (Xiong et al. 2016 §3.3, eqs. 6-8): unnormalised scores of the rows from
    [m∘u, |m−u|, m∘e, |m−e|] through tanh(z W1 + b1) W2; the caller normalises them."""

    def __init__(self, dim: int):
        super().__init__()
        self.hidden = linear_weight(4 * dim, dim)  # W1
        self.hidden_bias = nn.Parameter(torch.zeros(1, dim))  # b1
        self.out = linear_weight(dim, 1)  # W2

    def forward(self, rows: torch.Tensor, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """rows (B, ..., d), query state u (B, d), previous episode e (B, d) -> scores (B, ...)."""
        shape = (u.shape[0],) + (1,) * (rows.dim() - 2) + (u.shape[-1],)
        u, e = u.view(shape), e.view(shape)  # broadcast over the rows
        z = torch.cat([rows * u, (rows - u).abs(), rows * e, (rows - e).abs()], dim=-1)  # (B, ..., 4d)
        return (torch.tanh(z @ self.hidden + self.hidden_bias) @ self.out).squeeze(-1)  # (B, ...)


class AttentionGRU(nn.Module):
    """The DMN+ attention GRU (Xiong et al. 2016 §3.3, eqs. 9-12), its update gate replaced by a given gate g_i:
    r_i = σ(W_r m_i + U_r h + b_r), h̃_i = tanh(W m_i + r_i ∘ (U h) + b), h_i = g_i h̃_i + (1 − g_i) h_{i−1}."""

    def __init__(self, dim: int):
        super().__init__()
        self.input_map = linear_weight(dim, 2 * dim)  # [W_r, W] applied to the rows
        self.input_bias = nn.Parameter(torch.zeros(1, 2 * dim))  # [b_r, b]
        self.state_map = linear_weight(dim, 2 * dim)  # [U_r, U] applied to the state

    def forward(self, rows: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """rows (..., n, d) oldest first, gates (..., n) -> the episode (..., d): the state after the last row.

        Leading dimensions run in parallel: HMNet runs every kept region's rows at once."""
        d = rows.shape[-1]
        reset_in, cand_in = (rows @ self.input_map + self.input_bias).split(d, dim=-1)  # (..., n, d) each
        # each row's inputs and gate as views made at once: the backward of one unbind is one stack, where a
        # slice per row would fill a zero tensor of all n rows for each of them
        steps = zip(reset_in.unbind(-2), cand_in.unbind(-2), gates.unsqueeze(-1).unbind(-2))  # (..., d|1) each
        h = rows.new_zeros(rows.shape[:-2] + (d,))  # (..., d)
        for reset_i, cand_i, g in steps:  # in time order: the recurrence is what makes the read order-sensitive
            reset_h, cand_h = (h @ self.state_map).split(d, dim=-1)  # (..., d) each
            reset = torch.sigmoid(reset_i + reset_h)
            candidate = torch.tanh(cand_i + reset * cand_h)
            h = h + g * (candidate - h)  # g h̃_i + (1 - g) h_{i-1}
        return h


class RegionAttention(nn.Module):
    """Part 5: a locally connected layer summarises each region (its own depthwise weights per region position,
    counted from the most recent region), and α_r = softmax_r(u · summary_r)."""

    def __init__(self, regions: int, region_size: int, dim: int, pool: str = "max"):
        super().__init__()
        self.pool = pool  # "max": each feature's largest weighted row, so one rare row is not averaged away
        start = 1.0 / region_size if pool == "sum" else 1.0
        self.local_weight = nn.Parameter(torch.full((regions, region_size, dim), start))  # (R, s, d)
        self.local_bias = nn.Parameter(torch.zeros(regions, dim))  # (R, d)

    def forward(self, rows: torch.Tensor, filled: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """rows (B, R, s, d), filled (B, R, s) bool, u (B, d) -> α (B, R); regions without rows get 0."""
        weighted = rows * self.local_weight  # (B, R, s, d)
        if self.pool == "max":  # empty rows must not win the max (a region without rows is masked below)
            pooled = weighted.masked_fill(~filled.unsqueeze(-1), MASKED).amax(2)  # (B, R, d)
        else:
            pooled = weighted.sum(2)  # (B, R, d)
        summary = pooled + self.local_bias  # (B, R, d)
        scores = (summary * u.unsqueeze(1)).sum(-1)  # (B, R)
        return scores.masked_fill(~filled.any(-1), MASKED).softmax(-1)


def within_regions(scores: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """Softmax over each region's filled rows: scores (B, k, s), filled (B, k, s) -> (B, k, s)."""
    return scores.masked_fill(~filled, MASKED).softmax(-1) * filled


class HMNet(nn.Module):
    """Hierarchical Memory Network; see the module docstring for its parts."""

    def __init__(self, config: HMNetConfig):
        super().__init__()
        self.config = config
        c, d = config, config.embed_dim
        n = c.hops + 1 if c.tying == "adjacent" else 1
        self.embed = nn.Parameter(torch.randn(n, c.vocab_size, d) * c.init_std)  # word embeddings (n, V, d)
        with torch.no_grad():
            self.embed[:, 0] = 0  # the nil word adds nothing (its bag weight is 0, so it gets no gradient)
        self.type_embed = nn.Parameter(torch.randn(3, d) * c.init_std) if c.memory_types else None  # (types, d)
        self.temporal_embed = nn.Parameter(torch.randn(c.memory_size, d) * c.init_std) if c.temporal else None
        self.region_attention = (RegionAttention(c.region_count, c.region_size, d, c.region_pool) if c.regions
                                 else None)
        self.gate = AttentionGate(d) if c.attention_gru else None
        self.gru = AttentionGRU(d) if c.attention_gru else None  # over the rows of each region
        self.region_gru = AttentionGRU(d) if c.attention_gru and c.regions else None  # over region episodes
        self.write = linear_weight(d, d) if c.output_memory else None  # part 4: state -> output-memory row
        reads = 2 + c.content_read + c.attention_gru + c.output_memory  # u_{t-1}, q and each read
        self.controller = linear_weight(reads * d, d, c.hops)  # (K, reads*d, d) untied W_t (DMN+ §3.3)
        self.controller_bias = nn.Parameter(torch.zeros(c.hops, 1, d))
        self.answer_map = linear_weight(2 * d, c.vocab_size)  # [u_K; q] -> V

    def forward(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor,
                kind: torch.Tensor, linear: bool | torch.Tensor = False) -> HMNetOutput:
        """story (B, M, J) and query (B, Jq) word ids (0 = padding); time (B, M): 1 = most recent statement,
        0 = empty slot (slots oldest first, as ``memnets.data.tensors`` lays them out); kind (B, M) memory types.
        ``linear`` (End-To-End's linear start, §4.2) removes the softmax from the content read's row weights and
        the output memory's read; the attention GRU's gates and the region weights keep theirs."""
        cfg, device = self.config, story.device
        linear = torch.as_tensor(linear, device=device)
        b, m, _ = story.shape
        encoding = (cfg.encoding, cfg.embed_dim, cfg.sentence_size)
        weights = position_weights(self.embed, cfg.encoding != "bow")  # (n, P*V, d)
        filled = time > 0  # (B, M)
        rows = encode(sentence_bags(story, cfg.vocab_size, *encoding), weights)  # (B, M, n, d) in each embedding
        if self.type_embed is not None:
            rows = rows + self.type_embed[kind.clamp(0, FACT)].unsqueeze(2)  # (B, M, n, d)
        if self.temporal_embed is not None:
            rows = rows + self.temporal_embed[(time - 1).clamp(0, cfg.memory_size - 1)].unsqueeze(2)
        rows = rows * filled.view(b, m, 1, 1)  # (B, M, n, d) empty slots are zero
        q = encode(sentence_bags(query, cfg.vocab_size, *encoding), weights[:1])[:, 0]  # (B, d) question

        # Recency layout: slot j of ``recent`` holds the j-th most recent row, so region r (rows r*s..r*s+s-1) is
        # the same stretch of time in every story. The map slot <-> recency is its own inverse on filled slots.
        r_count, s, k = cfg.region_count, cfg.region_size if cfg.regions else m, cfg.kept_regions
        length = filled.sum(-1, keepdim=True)  # (B, 1)
        j = torch.arange(m, device=device)  # (M,)
        flip = (length - 1 - j).clamp(min=0)  # (B, M) slot of each recency index, and vice versa
        in_story = j < length  # (B, M)
        n, d = rows.shape[2:]
        recent = rows.gather(1, flip.view(b, m, 1, 1).expand(-1, -1, n, d)) * in_story.view(b, m, 1, 1)
        pad = r_count * s - m
        recent = F.pad(recent, (0, 0, 0, 0, 0, pad)).view(b, r_count, s, n, d)  # (B, R, s, n, d)
        recent_filled = F.pad(in_story, (0, pad)).view(b, r_count, s)  # (B, R, s)

        def to_slots(region_ids: torch.Tensor, per_row: torch.Tensor) -> torch.Tensor:
            """Weights of kept regions' rows (B, k, s) -> weights of the memory slots (B, M), 0 elsewhere."""
            full = per_row.new_zeros(b, r_count, s).scatter(1, region_ids.unsqueeze(-1).expand(-1, -1, s), per_row)
            return full.view(b, -1)[:, :m].gather(1, flip) * in_story  # (B, M)

        u, e = q, q  # controller state u_0 and previous episode e_0 (DMN+ starts its memory at q)
        outputs = [q]  # part 4: states written so far (u_0 = q first)
        attention, region_weights, gates, output_attention = [], [], [], []
        for hop in range(cfg.hops):
            key, value = (hop, hop + 1) if n > 1 else (0, 0)  # the embeddings this hop addresses and reads
            if self.region_attention is not None:
                alpha = self.region_attention(recent[:, :, :, key], recent_filled, u)  # (B, R)
                region_weights.append(alpha)
                kept_alpha, kept = alpha.topk(k, dim=-1, sorted=False)  # (B, k)
                kept, order = kept.sort(-1, descending=True)  # oldest region first, for the GRU
                kept_alpha = kept_alpha.gather(1, order) / kept_alpha.sum(-1, keepdim=True)  # (B, k) renormalised
            else:
                kept = torch.zeros(b, 1, dtype=torch.long, device=device)  # one region holding every row
                kept_alpha = torch.ones(b, 1, device=device)
            idx = kept.view(b, k, 1, 1).expand(-1, -1, s, d)
            kept_keys = recent[:, :, :, key].gather(1, idx)  # (B, k, s, d) rows touched: k*s (plus R summaries)
            kept_rows = kept_keys if value == key else recent[:, :, :, value].gather(1, idx)  # (B, k, s, d) read
            kept_filled = recent_filled.gather(1, kept.unsqueeze(-1).expand(-1, -1, s))  # (B, k, s)

            content = (kept_keys * u.view(b, 1, 1, -1)).sum(-1)  # (B, k, s) m_i · u, no parameters
            beta = torch.where(linear, content * kept_filled, within_regions(content, kept_filled))  # (B, k, s)
            row_weight = kept_alpha.unsqueeze(-1) * beta  # (B, k, s) α_r β_i|r
            attention.append(to_slots(kept, row_weight))
            reads = [u, q]
            if cfg.content_read:
                reads.append((row_weight.unsqueeze(-1) * kept_rows).sum((1, 2)))  # (B, d) c = wᵀ M
            if self.gru is not None:  # two levels: rows within each region, then the regions, both oldest first
                gamma = within_regions(self.gate(kept_keys, u, e), kept_filled)  # (B, k, s) γ_i|r
                gates.append(to_slots(kept, kept_alpha.unsqueeze(-1) * gamma))  # row gate α_r γ_i|r
                e = self.gru(kept_rows.flip(2), gamma.flip(2))  # (B, k, d) each region's episode, in parallel
                e = self.region_gru(e, kept_alpha) if self.region_gru is not None else e[:, 0]  # (B, d)
                reads.append(e)
            if self.write is not None:
                written = torch.stack(outputs, 1) @ self.write  # (B, t, d) the output memory
                if self.type_embed is not None:
                    written = written + self.type_embed[OUTPUT]
                written = written + sinusoids(len(outputs), cfg.embed_dim, device)  # (B, t, d)
                omega = (written * u.unsqueeze(1)).sum(-1)  # (B, t)
                omega = torch.where(linear, omega, omega.softmax(-1))
                output_attention.append(omega)
                reads.append((omega.unsqueeze(-1) * written).sum(1))  # (B, d) h_t
            update = torch.relu(torch.cat(reads, -1) @ self.controller[hop] + self.controller_bias[hop])  # (B, d)
            # u_{t-1} + c_t beside the ReLU layer: DMN+'s plain u_t = ReLU(...) learned task 2 far more slowly
            # with SGD (README, "Where the design changed": 65% test error after 20 epochs with this path, 80% with
            # u_{t-1} alone)
            u = u + (reads[2] if cfg.content_read else 0) + update
            outputs.append(u)
        logits = torch.cat([u, q], -1) @ self.answer_map  # (B, V)
        logits = logits.masked_fill(torch.arange(cfg.vocab_size, device=device) == 0, float("-inf"))  # never <nil>
        return HMNetOutput(logits, tuple(attention), tuple(region_weights), tuple(gates), tuple(output_attention))

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = False  # trained on question-answer pairs only

    def inputs(self, batch: dict[str, torch.Tensor], linear: bool | torch.Tensor, supervised: bool) -> dict:
        """Keyword arguments of ``forward``; HMNet uses no supporting facts."""
        return {"story": batch["story"], "query": batch["query"], "time": batch["time"], "kind": batch["kind"],
                "linear": linear}

    def loss(self, out: HMNetOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy summed over the batch, and the number of wrong answers."""
        answer = batch["answer"]
        return F.cross_entropy(out.logits, answer, reduction="sum"), (out.logits.argmax(-1) != answer).sum()
