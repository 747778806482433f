"""Memory Networks (MemNN): Weston, Chopra, Bordes, "Memory Networks", ICLR 2015 (arXiv:1410.3916), with the
extensions of Weston et al., "Towards AI-Complete Question Answering" (2015, arXiv:1502.05698) §5: adaptive memory
(AM), bag of N-grams (NG) and a nonlinear matching function (NL).

The four components, as the paper names them (§2, §3.1):
  I  input feature map: a sentence becomes a bag of its words (and, with NG, of its word bigrams and trigrams);
  G  generalization: each new sentence is written to the next free memory slot (``WrittenMemory`` below, which also
     keeps the hash buckets of §3.3 so that a question scores only the memories that share a bucket with it);
  O  output: k lookups, o_1 = argmax_i s_O(x, m_i), o_2 = argmax_i s_O([x, m_o1], m_i), ...;
  R  response: the answer word r = argmax_w s_R([x, m_o1, ..., m_ok], w) over the vocabulary; R's Φx gives the
     last memory found a representation of its own (ours: a bag of all found memories cannot tell "Mary went to
     the bathroom. After that she went to the bedroom." apart from the reverse, and bAbI task 11 failed at 51%).
with s(x, y) = Φx(x)ᵀ Uᵀ U Φy(y). Φx gives every word two representations, one when it comes from the question and
one when it comes from a memory already found; Φy a third, for the memory being scored (§3.1: D = 3|W|).

Write time (§3.4): with time features, O compares two memories at a time, s_Ot(x, y, y') =
Φx(x)ᵀ Uᵀ U (Φy(y) - Φy(y') + Φt(x, y, y')), where Φt holds three 0/1 features: x older than y, x older than y',
y older than y'. A lookup runs a tournament over the memories in the order they were written, keeping the current
winner y against each newer memory y' while s_Ot(x, y, y') > 0. That is how "where is Mary?" finds her latest move:
the "y older than y'" weight learns to hand the win to the newer of two equally matching memories. x's write time
is that of the memory found by the previous lookup (the question, for the first lookup, is newer than all memories).

Adaptive memory (AM): a special STOP memory m∅ competes with the tournament's winner at every lookup (by the plain
score, as m∅ has no write time); lookups continue until it wins, up to ``lookups``, so questions with three or more
supporting facts can be answered. NL passes both sides' embeddings through a learned map and tanh before the dot
product, s_O(x, y) = tanh(H UΦx(x)) · tanh(H' UΦy(y)), and R's x side likewise, s_R(x, w) = tanh(H_R UΦx(x)) · UΦy(w).

Training (§3.1, eq. 6-8; §3.4): a margin ranking loss with margin γ given the supporting facts (strong supervision):
each lookup's gold memory must beat every other memory by γ (pairwise, in both orders, with time features), and
the gold answer every other word. All memories and words are scored at once, as tensors; only the tournament is a
loop, over memory slots, with the batch vectorised.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

NGRAM_PRIMES = (1_000_003, 999_983)  # hash multipliers for bigram and trigram ids (any large primes do)


@dataclass(frozen=True)
class MemNNConfig:
    vocab_size: int  # |W|, words including <nil> (id 0) and <unk> (id 1); answers are entries of the vocabulary
    embed_dim: int = 50  # n, the rows of U (§3.1); the papers do not print it for bAbI: our choice
    memory_size: int = 1000  # slots: the paper keeps every sentence, so this only caps very long stories
    lookups: int = 2  # k, supporting-memory lookups (§3.1 uses k = 2); with AM the most lookups before STOP
    adaptive: bool = True  # AM: lookups end on the STOP memory (Weston et al. 2015 §5)
    ngrams: bool = True  # NG: bag of N-grams, N = 3 (Weston et al. 2015 §5)
    ngram_buckets: int = 4096  # hashed ids of the bigrams and trigrams (a bAbI task has a few hundred of them)
    nonlinear: bool = True  # NL: tanh layer in the matching function (Weston et al. 2015 §5)
    time_features: bool = True  # write time, §3.4
    margin: float = 0.1  # γ of the ranking loss, §3.1 (the value is not printed: our choice)
    init_std: float = 0.1  # weights drawn from N(0, 0.1^2), as for the End-To-End model

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "memory_size", "lookups", "ngram_buckets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.margin > 0:
            raise ValueError(f"margin must be positive, got {self.margin}")


class MemNNOutput(NamedTuple):
    logits: torch.Tensor  # (B, V) s_R over the vocabulary: the answer is the argmax
    attention: tuple[torch.Tensor, ...]  # k tensors (B, M): 1 on the memory each lookup selected (0s after STOP)
    selected: torch.Tensor  # (B, k) slot chosen by each lookup; M stands for STOP, -1 for no lookup
    scores: torch.Tensor  # (B, k, M + 1) s_O(x_j, m_i) of every memory and, last, of STOP (-inf without AM)
    time_weights: torch.Tensor  # (B, k, 3) weights of the three time features for each lookup's x
    lookup_time: torch.Tensor  # (B, k) write time (age) of each lookup's x; 0 = the question, newer than all


def ngram_ids(ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """Hashed ids of the word bigrams and trigrams of sentences: (..., J) word ids -> (..., 2J) ids in 1..buckets.

    Position j holds the bigram starting at word j, position J + j the trigram; 0 where it runs into padding.
    """
    pad = nn.functional.pad(ids, (0, 2))  # (..., J + 2)
    w1, w2, w3 = pad[..., :-2], pad[..., 1:-1], pad[..., 2:]  # (..., J) each
    p, q = NGRAM_PRIMES
    bigram = torch.where((w1 > 0) & (w2 > 0), (w1 * p + w2) % buckets + 1, 0)
    trigram = torch.where((w1 > 0) & (w2 > 0) & (w3 > 0), ((w1 * q + w2) * q + w3 + 7) % buckets + 1, 0)
    return torch.cat([bigram, trigram], dim=-1)  # (..., 2J)


class MemNN(nn.Module):
    """MemNN with k lookups: O's embeddings U_O and R's U_R, each with its question, found-memory and candidate parts."""

    def __init__(self, config: MemNNConfig):
        super().__init__()
        self.config = config
        n, std = config.embed_dim, config.init_std
        features = config.vocab_size + (config.ngram_buckets + 1 if config.ngrams else 0)  # I: words, then N-grams

        def table(parts: int) -> nn.Parameter:
            weight = torch.randn(parts, features, n) * std
            weight[:, 0] = 0  # the padding feature (word or N-gram id 0) embeds to zero
            weight[:, config.vocab_size:] = 0  # N-grams start at zero: learned where words alone do not rank well
            return nn.Parameter(weight)

        # U_O Φ, §3.1: [0] words of the question, [1] words of memories already found, [2] the memory scored
        self.match_embed = table(3)  # (3, F, n)
        # U_R Φx: [0] the question, [1] memories found before the last, [2] the last memory found (R above)
        self.response_embed = table(3)  # (3, F, n)
        self.answer_embed = nn.Parameter(torch.randn(config.vocab_size, n) * std)  # (V, n) U_R Φy(w), §3.1
        # (3, n) U_O Φt, §3.4: "x older than y", "x older than y'", "y older than y'"
        self.time_embed = nn.Parameter(torch.randn(3, n) * std) if config.time_features else None
        self.stop_embed = nn.Parameter(torch.randn(1, n) * std) if config.adaptive else None  # (1, n) U_O Φy(m∅)
        if config.nonlinear:  # NL: H for the x side and H' for the y side of s_O; H_R for the x side of s_R
            self.match_map = nn.Parameter(torch.eye(n).repeat(2, 1, 1) + torch.randn(2, n, n) * std)  # (2, n, n)
            # H_R starts at 3 I: a sum of small embeddings sits where tanh is nearly linear, and a linear R stays
            # at chance on yes/no questions (task 6: 49% error from one initialisation, 0.3% with this one)
            self.response_map = nn.Parameter(3 * torch.eye(n) + torch.randn(n, n) * std)  # (n, n)

    # ------------------------------------------------------------------------------------------------- I, O, R

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """I: the feature ids of sentences, (..., J) word ids -> (..., J') with N-grams after the words."""
        if not self.config.ngrams:
            return ids
        grams = ngram_ids(ids, self.config.ngram_buckets)  # (..., 2J)
        return torch.cat([ids, torch.where(grams > 0, grams + self.config.vocab_size - 1, 0)], dim=-1)

    def embed(self, table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Bag embedding U Φ(s): (..., J') feature ids -> (..., n); padding rows are zero, so they add nothing."""
        return nn.functional.embedding(ids, table, padding_idx=0).sum(-2)

    def match_x(self, v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(v @ self.match_map[0].T) if self.config.nonlinear else v

    def match_y(self, v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(v @ self.match_map[1].T) if self.config.nonlinear else v

    def response_x(self, v: torch.Tensor) -> torch.Tensor:
        # NL in R too: a sum of bags is linear in its words, so no linear s_R can tell whether the question's
        # place is the found memory's (yes/no questions, task 6); one tanh layer can
        return torch.tanh(v @ self.response_map.T) if self.config.nonlinear else v

    def forward(self, story: torch.Tensor, query: torch.Tensor, time: torch.Tensor,
                supports: torch.Tensor | None = None) -> MemNNOutput:
        """Answer scores, the memories each lookup selected and their scores.

        story (B, M, J), query (B, Jq) word ids; time (B, M) 1 = most recent statement, 0 = empty slot. With
        ``supports`` (B, S), the slots of the annotated supporting facts (-1 = none), every lookup after the first
        is given the gold memories found so far and R the gold ones (training, strong supervision), and
        ``selected`` holds those gold slots; without it each lookup takes its tournament's winner. (Long memories
        with hash buckets go through ``WrittenMemory`` instead.)
        """
        cfg = self.config
        b, m = time.shape
        k = cfg.lookups
        filled = time > 0  # (B, M)
        words = self.features(story)  # (B, M, J')
        as_scored = self.match_y(self.embed(self.match_embed[2], words))  # (B, M, n) U_O Φy(m_i)
        question = self.features(query)
        x = self.embed(self.match_embed[0], question)  # (B, n) U_O Φx(q), grows as memories are found
        r = self.embed(self.response_embed[0], question)  # (B, n) U_R Φx(q) and the memories found before the last
        r_last = torch.zeros_like(r)  # (B, n) the last memory found, in its own representation
        r_next = torch.zeros_like(r)  # (B, n) the last memory found, as it will count once another is found
        x_time = time.new_zeros(b)  # (B,) the question is newer than every memory
        active = time.new_ones(b, dtype=torch.bool)  # (B,) False once a lookup returned STOP
        gold = None if supports is None else target_slots(supports, k, cfg.adaptive, m)  # (B, k)

        scores, selected, weights, x_times = [], [], [], []
        for step in range(k):
            a = self.match_x(x)  # (B, n)
            s = (as_scored * a.unsqueeze(1)).sum(-1)  # (B, M) s_O(x, m_i)
            if cfg.adaptive:
                s_stop = self.match_y(self.stop_embed) @ a.unsqueeze(-1)  # (B, 1, 1) s_O(x, m∅)
                s = torch.cat([s, s_stop[:, :, 0]], dim=1)  # (B, M + 1) STOP last
            else:
                s = nn.functional.pad(s, (0, 1), value=float("-inf"))  # (B, M + 1) there is no STOP memory
            c = (self.time_embed @ a.unsqueeze(-1))[..., 0] if cfg.time_features else a.new_zeros(b, 3)  # (B, 3)
            if gold is None:
                winner = tournament(s[:, :m], c, time, x_time, filled)  # (B,) slot, -1 for an empty memory
                if cfg.adaptive:
                    best = s[:, :m].gather(1, winner.clamp(min=0).unsqueeze(1)).squeeze(1)  # (B,)
                    winner = torch.where((winner < 0) | (s[:, m] > best), m, winner)  # STOP wins on the plain score
                winner = torch.where(active, winner, -1)
            else:  # training: the gold memory joins x (no tournament needed for the loss)
                winner = gold[:, step]
            scores.append(s)
            weights.append(c)
            x_times.append(x_time)
            selected.append(winner)
            found = winner  # (B,) the memory that joins x
            is_memory = (found >= 0) & (found < m)  # (B,)
            index = found.clamp(0, m - 1)  # (B,)
            rows = torch.arange(b, device=time.device)  # (B,)
            found_words = words[rows, index] * is_memory.unsqueeze(-1)  # (B, J') nothing if not a memory
            x = x + self.embed(self.match_embed[1], found_words)  # (B, n) U_O Φx([x, m_o]): the found-memory part
            keep = is_memory.unsqueeze(-1)  # (B, 1) a new last memory: the previous one joins the others
            r = torch.where(keep, r + r_next, r)
            r_next = torch.where(keep, self.embed(self.response_embed[1], found_words), r_next)  # (B, n)
            r_last = torch.where(keep, self.embed(self.response_embed[2], found_words), r_last)  # (B, n)
            x_time = torch.where(is_memory, time[rows, index], x_time)
            active = active & (found != m) & (found >= 0)

        logits = self.response_x(r + r_last) @ self.answer_embed.T  # (B, V) s_R([x, m_o1, ...], w) for every word
        nil = torch.arange(cfg.vocab_size, device=logits.device) == 0  # (V,) never answer <nil>
        logits = logits.masked_fill(nil, float("-inf"))
        chosen = torch.stack(selected, 1)  # (B, k)
        slots = torch.arange(m, device=time.device)
        attention = tuple((chosen[:, j:j + 1] == slots).to(torch.float32) for j in range(k))  # k (B, M)
        return MemNNOutput(logits, attention, chosen, torch.stack(scores, 1), torch.stack(weights, 1),
                           torch.stack(x_times, 1))

    # -------------------------------------------------------------------------------------- training protocol

    strongly_supervised = True  # trained with the supporting facts (the loop validates with inference instead)

    def inputs(self, batch: dict[str, torch.Tensor], linear: torch.Tensor, supervised: bool) -> dict:
        """Keyword arguments of ``forward`` for a batch; MemNN has no linear-start phase, so ``linear`` is unused."""
        args = {"story": batch["story"], "query": batch["query"], "time": batch["time"]}
        return {**args, "supports": batch["supports"]} if supervised else args

    def loss(self, out: MemNNOutput, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The margin ranking loss of §3.1 (eq. 6-8), with the pairwise comparisons of §3.4 when there are time
        features, summed over the batch; and the number of wrong answers (of the answers given the gold supporting
        facts). ``out`` must come from a forward given the supporting facts."""
        cfg = self.config
        gamma = cfg.margin
        time = batch["time"]
        m = time.shape[1]
        gold = out.selected  # (B, k) the gold slot of each lookup (given the supports): M = STOP, -1 = no target
        filled = (time > 0).unsqueeze(1)  # (B, 1, M)
        s = out.scores  # (B, k, M + 1)
        real = (gold >= 0) & (gold < m)  # (B, k) the lookup's target is a memory
        g = gold.clamp(0, m - 1).unsqueeze(-1)  # (B, k, 1)
        s_gold = s.gather(2, g)  # (B, k, 1)
        t = time.unsqueeze(1)  # (B, 1, M)
        t_gold = time.gather(1, g.squeeze(-1)).unsqueeze(-1)  # (B, k, 1)
        older = lambda u, v: (u > v).to(s.dtype)  # noqa: E731 - larger time index = written earlier
        tx = out.lookup_time.unsqueeze(-1)  # (B, k, 1)
        c = out.time_weights.unsqueeze(-1)  # (B, k, 3, 1)
        others = filled & (torch.arange(m, device=g.device) != g)  # (B, k, M) every other memory f
        s_mem = s[..., :m]  # (B, k, M)
        # s_Ot(x, gold, f) > γ and s_Ot(x, f, gold) < -γ, for every other memory f (§3.4)
        ahead = s_gold - s_mem + c[:, :, 0] * older(tx, t_gold) + c[:, :, 1] * older(tx, t) + c[:, :, 2] * older(t_gold, t)
        behind = s_mem - s_gold + c[:, :, 0] * older(tx, t) + c[:, :, 1] * older(tx, t_gold) + c[:, :, 2] * older(t, t_gold)
        if cfg.time_features:
            pair = (torch.relu(gamma - ahead) + torch.relu(gamma + behind)) * others  # (B, k, M)
        else:  # eq. (6)-(7): max(0, γ - s_O(x, gold) + s_O(x, f)) for every other memory f
            pair = torch.relu(gamma - s_gold + s_mem) * others  # (B, k, M)
        lookup_loss = (pair.sum(-1) * real).sum()
        if cfg.adaptive:  # the gold memory beats STOP; at the end, STOP beats every memory
            lookup_loss = lookup_loss + (torch.relu(gamma - s_gold.squeeze(-1) + s[..., m]) * real).sum()
            stop_turn = (gold == m).unsqueeze(-1)  # (B, k, 1)
            lookup_loss = lookup_loss + (torch.relu(gamma - s[..., m:] + s_mem) * filled * stop_turn).sum()
        answer = batch["answer"]
        right = out.logits.gather(1, answer.unsqueeze(1))  # (B, 1)
        words = torch.arange(cfg.vocab_size, device=answer.device)
        wrong_words = words != answer.unsqueeze(1)  # (B, V)
        wrong_words = wrong_words & (words > 0)  # <nil> is never a candidate
        response_loss = (torch.relu(gamma - right + out.logits.masked_fill(~wrong_words, 0)) * wrong_words).sum()
        return lookup_loss + response_loss, (out.logits.argmax(-1) != answer).sum()


def target_slots(supports: torch.Tensor, lookups: int, adaptive: bool, memory_size: int) -> torch.Tensor:
    """The memory each lookup is trained to find: (B, S) supporting slots (-1 = none) -> (B, k) slots.

    Lookup j targets the j-th supporting fact. Past the last one it targets STOP (slot ``memory_size``) with AM,
    once, and nothing (-1) after that; without AM it targets the last supporting fact again, as a k-lookup model
    must look up something.
    """
    b = supports.shape[0]
    count = (supports >= 0).sum(-1, keepdim=True)  # (B, 1)
    j = torch.arange(lookups, device=supports.device).expand(b, lookups)  # (B, k)
    padded = nn.functional.pad(supports, (0, max(0, lookups - supports.shape[1])), value=-1)[:, :lookups]
    if adaptive:
        return torch.where(j < count, padded, torch.where(j == count, memory_size, -1))
    last = supports.gather(1, (count - 1).clamp(min=0))  # (B, 1)
    return torch.where(j < count, padded, last)


def tournament(scores: torch.Tensor, time_weights: torch.Tensor, time: torch.Tensor, x_time: torch.Tensor,
               allowed: torch.Tensor) -> torch.Tensor:
    """O's lookup with write time (§3.4): the winner of a pass over the memories in the order they were written.

    scores (B, M) s_O(x, m_i) without time features; time_weights (B, 3) the weights of "x older than y",
    "x older than y'" and "y older than y'"; time (B, M) each slot's age (larger = written earlier); x_time (B,)
    the age of x (0 = newer than every memory); allowed (B, M). The current winner y is kept against the next
    memory y' while s_Ot(x, y, y') > 0. Returns the winning slot (B,), -1 where no slot is allowed.
    """
    b, m = scores.shape
    winner = torch.full((b,), -1, dtype=torch.long, device=scores.device)
    best = scores.new_zeros(b)  # score of the current winner, plus its "x older than y" term
    c1, c2, c3 = time_weights.unbind(-1)  # (B,) each
    for i in range(m):  # slots hold memories oldest first
        challenger = scores[:, i] - c2 * (x_time > time[:, i])  # (B,) what y' subtracts from s_Ot
        keep = best + c3 - challenger > 0  # s_Ot(x, winner, y') > 0; the winner is always the older one
        take = allowed[:, i] & ((winner < 0) | ~keep)
        winner = torch.where(take, i, winner)
        best = torch.where(take, scores[:, i] + c1 * (x_time > time[:, i]), best)
    return winner


def tournament_scan(scores: torch.Tensor, time_weights: torch.Tensor, age: torch.Tensor, x_age: int) -> int:
    """The same tournament as :func:`tournament`, for one question over N candidate memories (oldest first), as
    one pass over Python floats: for memories of 100,000 sentences that is milliseconds, where a loop of tensor
    operations would take seconds. scores (N,) s_O; time_weights (3,); age (N,). Returns the winner's index."""
    c1, c2, c3 = time_weights.tolist()
    newer_than_x = (age < x_age).to(scores.dtype)  # x older than the memory
    keeper = (scores + c1 * newer_than_x).tolist()  # what a winner y brings to s_Ot(x, y, y')
    challenger = (scores - c2 * newer_than_x).tolist()  # what a challenger y' takes away from it
    winner, bar = 0, keeper[0] + c3
    for i in range(1, len(challenger)):
        if challenger[i] >= bar:  # s_Ot(x, winner, y') <= 0: the newer memory takes over
            winner, bar = i, keeper[i] + c3
    return winner


class WrittenMemory:
    """G (§2) for long memories: sentences are written one at a time into the next slot, each encoded once as it
    is written, and filed in hash buckets (§3.3) so that a lookup scores only the memories sharing a bucket with x.

    ``hashing``: "none" (every memory is a candidate), "word" (a bucket per word: a memory is a candidate when it
    shares a word with x) or "cluster" (a bucket per cluster of word embeddings, K-means on the rows of U_O: a
    memory is a candidate when one of its words falls in a cluster of one of x's words). Hashing trades accuracy
    for speed: a supporting fact that shares no bucket with x cannot be found.
    """

    def __init__(self, model: MemNN, hashing: str = "none", clusters: int = 8, seed: int = 0):
        if hashing not in ("none", "word", "cluster"):
            raise ValueError(f"hashing must be 'none', 'word' or 'cluster', got {hashing!r}")
        self.model, self.hashing = model, hashing
        vocab = model.config.vocab_size
        self.bucket_of = torch.arange(vocab)  # (V,) word -> bucket
        if hashing == "cluster":
            self.bucket_of = kmeans(model.match_embed[2, :vocab].detach(), clusters, seed)
        self.buckets: dict[int, list[int]] = {}  # bucket -> slots, in writing order
        self.bucket_tensors: dict[int, torch.Tensor] = {}  # the same as tensors, updated by each write
        self.words: list[torch.Tensor] = []  # each slot's feature ids (J',)
        self.encoded = torch.zeros(0, model.config.embed_dim)  # (N, n) U_O Φy of every slot, computed once

    def __len__(self) -> int:
        return len(self.words)

    @torch.no_grad()
    def write(self, sentences: list[list[int]]) -> None:
        """Write sentences (each a list of word ids), oldest first, into the next slots and file them in their
        buckets. The encodings of a whole batch of sentences are computed at once."""
        if not sentences:
            return
        width = max(1, max(map(len, sentences)))
        ids = torch.zeros(len(sentences), width, dtype=torch.long)  # (N, J)
        for i, words in enumerate(sentences):
            ids[i, :len(words)] = torch.tensor(words or [1])
        features = self.model.features(ids)  # (N, J')
        encoded = self.model.match_y(self.model.embed(self.model.match_embed[2], features))  # (N, n) U_O Φy
        first = len(self.words)
        self.words.extend(row[row > 0] for row in features)
        self.encoded = torch.cat([self.encoded, encoded])
        if self.hashing == "none":
            return
        buckets = self.bucket_of[ids].tolist()  # (N, J) bucket of every word
        touched = set()
        for i, (row, words) in enumerate(zip(buckets, ids.tolist())):
            for bucket in {b for b, w in zip(row, words) if w > 0}:
                self.buckets.setdefault(bucket, []).append(first + i)
                touched.add(bucket)
        for bucket in touched:  # the index a lookup reads, kept up to date here rather than at question time
            self.bucket_tensors[bucket] = torch.tensor(self.buckets[bucket])

    def candidates(self, word_ids: torch.Tensor) -> torch.Tensor:
        """Slots (sorted, oldest first) that share a bucket with any of ``word_ids``; all slots without hashing."""
        if self.hashing == "none":
            return torch.arange(len(self.words))
        buckets = set(self.bucket_of[word_ids[word_ids > 0]].tolist()) & set(self.buckets)
        if not buckets:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat([self.bucket_tensors[b] for b in buckets]).unique()  # sorted

    @torch.no_grad()
    def answer(self, query_ids: list[int]) -> tuple[int, list[int | None], int]:
        """Answer one question about everything written: (answer word id, the slot of each lookup (None = STOP or
        no lookup), memories scored in all). The same computation as ``MemNN.forward`` without supports."""
        model, cfg = self.model, self.model.config
        n = len(self.words)
        stacked = self.encoded  # (N, n)
        age = n - torch.arange(n)  # (N,) 1 = the most recent sentence, as ``time`` in the tensors
        question = model.features(torch.tensor(query_ids or [1]))
        x = model.embed(model.match_embed[0], question)  # (n,)
        r = model.embed(model.response_embed[0], question)  # (n,)
        r_last, r_next = torch.zeros_like(r), torch.zeros_like(r)
        x_words, x_age, chosen, scored = torch.tensor(query_ids), 0, [], 0
        for _ in range(cfg.lookups):
            pool = self.candidates(x_words)
            a = model.match_x(x)  # (n,)
            c = model.time_embed @ a if cfg.time_features else torch.zeros(3)  # (3,)
            slot = None
            if len(pool):
                s = (stacked if self.hashing == "none" else stacked[pool]) @ a  # (C,) s_O of the candidates only
                scored += len(pool)
                best = tournament_scan(s, c, age[pool], x_age)
                slot = int(pool[best])
                if cfg.adaptive and float(model.match_y(model.stop_embed)[0] @ a) > float(s[best]):
                    slot = None
            elif not cfg.adaptive:
                break
            chosen.append(slot)
            if slot is None:  # STOP (or nothing to look up)
                break
            x = x + model.embed(model.match_embed[1], self.words[slot])
            r = r + r_next
            r_next = model.embed(model.response_embed[1], self.words[slot])
            r_last = model.embed(model.response_embed[2], self.words[slot])
            x_words = torch.cat([x_words, self.words[slot][self.words[slot] < cfg.vocab_size]])
            x_age = int(age[slot])
        logits = model.answer_embed @ model.response_x(r + r_last)  # (V,)
        logits[0] = float("-inf")
        return int(logits.argmax()), chosen + [None] * (cfg.lookups - len(chosen)), scored


def kmeans(points: torch.Tensor, k: int, seed: int, iterations: int = 25) -> torch.Tensor:
    """Cluster index (N,) of each row of ``points`` (N, n): Lloyd's K-means from k distinct rows chosen at random."""
    k = min(k, points.shape[0])
    generator = torch.Generator().manual_seed(seed)
    centres = points[torch.randperm(points.shape[0], generator=generator)[:k]].clone()  # (k, n)
    for _ in range(iterations):
        assign = torch.cdist(points, centres).argmin(-1)  # (N,)
        for j in range(k):
            members = points[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return torch.cdist(points, centres).argmin(-1)
