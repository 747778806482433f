"""End-To-End Memory Network: closed-form checks against the paper's equations, written independently here."""
import math

import pytest
import torch

from memnets.models.encoders import encode, position_weights, sentence_bags
from memnets.data.tensors import filled_rows
from memnets.models.memn2n import PACK_BELOW, MemN2N, MemN2NConfig


def formula_pe(length: int, dim: int) -> torch.Tensor:
    """l_kj = (1 - j/J) - (k/d)(1 - 2j/J), straight from Sukhbaatar et al. (2015) §4.1: (J, d)."""
    table = torch.empty(length, dim)
    for j in range(1, length + 1):
        for k in range(1, dim + 1):
            table[j - 1, k - 1] = (1 - j / length) - (k / dim) * (1 - 2 * j / length)
    return table


def test_position_encoding_equals_the_formula():
    torch.manual_seed(0)
    embedding = torch.randn(1, 12, 6)
    ids = torch.tensor([[4, 7, 2, 9, 0, 0], [3, 3, 0, 0, 0, 0]])  # padded sentences of 4 and 2 words
    got = encode(sentence_bags(ids, 12, "position"), position_weights(embedding, True))[:, 0]  # (2, d)
    for row in range(2):
        words = [w for w in ids[row].tolist() if w]
        expected = (formula_pe(len(words), 6) * embedding[0, words]).sum(0)
        torch.testing.assert_close(got[row], expected)


def test_released_position_encoding_equals_the_authors_formula():
    """l_kj = 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J) with one J for all sentences (MemN2N-babi-matlab)."""
    torch.manual_seed(0)
    d, big_j = 6, 7
    embedding = torch.randn(1, 12, d)
    ids = torch.tensor([[4, 7, 2, 9, 0, 0], [3, 3, 0, 0, 0, 0]])
    got = encode(sentence_bags(ids, 12, "position-released", d, big_j), position_weights(embedding, True))[:, 0]
    for row in range(2):
        words = [w for w in ids[row].tolist() if w]
        table = torch.tensor([[1 + 4 * (k - (d + 1) / 2) * (j - (big_j + 1) / 2) / (d * big_j)
                               for k in range(1, d + 1)] for j in range(1, len(words) + 1)])
        torch.testing.assert_close(got[row], (table * embedding[0, words]).sum(0))


def test_bag_of_words_is_the_sum_of_embeddings():
    embedding = torch.randn(2, 10, 4)
    ids = torch.tensor([[1, 5, 5, 0]])
    got = encode(sentence_bags(ids, 10, "bow"), position_weights(embedding, False))  # (1, 2, d)
    torch.testing.assert_close(got[0], embedding[:, 1] + 2 * embedding[:, 5])


def test_one_hop_by_hand():
    """V = {nil, unk, a, b}, d = 2, A = [[1,0],[0,1]] for a, b and C = [[2,0],[0,3]]; story "a. b.", query "a"."""
    model = MemN2N(MemN2NConfig(vocab_size=4, embed_dim=2, hops=1, encoding="bow", temporal=False))
    with torch.no_grad():
        model.embed.zero_()
        model.embed[0, 2], model.embed[0, 3] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])  # A_1 = B
        model.embed[1, 2], model.embed[1, 3] = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 3.0])  # C_1 = W^T
    out = model(torch.tensor([[[2], [3]]]), torch.tensor([[2]]), torch.tensor([[2, 1]]))
    # u = (1, 0); u.m = (1, 0); p = softmax = (e, 1) / (e + 1); o = 2 p_1 e1 + 3 p_2 e2; logits = C (u + o)
    e = math.e
    p = [e / (e + 1), 1 / (e + 1)]
    torch.testing.assert_close(out.attention[0], torch.tensor([p]))
    u2 = [1 + 2 * p[0], 3 * p[1]]
    expected = torch.tensor([[-math.inf, 0.0, 2 * u2[0], 3 * u2[1]]])
    torch.testing.assert_close(out.logits, expected)


def reference_forward(model: MemN2N, story, query, time, linear=False):
    """A slow, separate implementation: explicit A_k, B, C_k, W, H per the tying rules of §2.2."""
    cfg = model.config
    k_hops = cfg.hops
    if cfg.tying == "adjacent":
        a = [model.embed[k] for k in range(k_hops)]
        c = [model.embed[k + 1] for k in range(k_hops)]
        ta = [model.temporal[k] for k in range(k_hops)] if cfg.temporal else None
        tc = [model.temporal[k + 1] for k in range(k_hops)] if cfg.temporal else None
        b, w, h = model.embed[0], model.embed[k_hops], None
    else:
        a, c = [model.embed[0]] * k_hops, [model.embed[1]] * k_hops
        ta = [model.temporal[0]] * k_hops if cfg.temporal else None
        tc = [model.temporal[1]] * k_hops if cfg.temporal else None
        b, w, h = model.query_embed[0], model.answer_embed, model.hop_map

    def sentence(matrix, ids):
        words = [x for x in ids.tolist() if x]
        vectors = matrix[words]  # (J, d)
        if cfg.encoding == "position":
            vectors = vectors * formula_pe(len(words), cfg.embed_dim)
        elif cfg.encoding == "position-released":
            d, big_j = cfg.embed_dim, cfg.sentence_size
            vectors = vectors * torch.tensor([[1 + 4 * (k - (d + 1) / 2) * (j - (big_j + 1) / 2) / (d * big_j)
                                               for k in range(1, d + 1)] for j in range(1, len(words) + 1)])
        return vectors.sum(0)

    def memory(matrix, temporal, i, s):
        if time[i, s] == 0:  # an empty slot is a nil memory: the zero vector, which still enters the softmax
            return torch.zeros(cfg.embed_dim)
        return sentence(matrix, story[i, s]) + (temporal[time[i, s] - 1] if temporal is not None else 0)

    logits, attention = [], [[] for _ in range(k_hops)]
    for i in range(story.shape[0]):
        u = sentence(b, query[i])
        for k in range(k_hops):
            m = torch.stack([memory(a[k], ta[k] if ta else None, i, s) for s in range(story.shape[1])])
            cc = torch.stack([memory(c[k], tc[k] if tc else None, i, s) for s in range(story.shape[1])])
            scores = m @ u
            p = scores if linear else torch.softmax(scores, 0)
            u = (h @ u if h is not None else u) + p @ cc
            if cfg.relu:
                u = torch.relu(u)
            attention[k].append(p)
        out = w @ u
        out[0] = -math.inf
        logits.append(out)
    return torch.stack(logits), [torch.stack(a) for a in attention]


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
@pytest.mark.parametrize("encoding, temporal, relu, linear", [
    ("position", True, False, False), ("bow", False, False, False), ("position", True, True, True),
    ("position-released", True, False, False)])
def test_matches_reference_implementation(tying, encoding, temporal, relu, linear):
    torch.manual_seed(1)
    cfg = MemN2NConfig(vocab_size=15, embed_dim=5, hops=3, memory_size=6, encoding=encoding, temporal=temporal,
                       tying=tying, relu=relu, sentence_size=6)
    model = MemN2N(cfg)
    story = torch.randint(2, 15, (3, 4, 5))
    story[:, :, 3:] = 0  # short sentences
    story[0, 3] = 0  # an empty slot
    time = torch.tensor([[3, 2, 1, 0], [4, 3, 2, 1], [6, 4, 2, 1]])  # the last row: gaps, as random noise makes
    query = torch.tensor([[3, 4, 0], [5, 0, 0], [2, 2, 7]])
    out = model(story, query, time, linear=linear)
    logits, attention = reference_forward(model, story, query, time, linear)
    torch.testing.assert_close(out.logits, logits)
    for got, want in zip(out.attention, attention):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
def test_filled_rows_give_the_dense_result_and_gradients(tying):
    """Encoding only the filled slots (``rows``, as training batches carry) changes nothing but the cost, also
    under vmap over restarts with rows padded to a shared length."""
    torch.manual_seed(2)
    cfg = MemN2NConfig(vocab_size=15, embed_dim=5, hops=2, memory_size=6, tying=tying, sentence_size=6)
    model = MemN2N(cfg)
    story = torch.randint(2, 15, (4, 6, 5))
    time = torch.tensor([[3, 2, 1, 0, 0, 0], [3, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [5, 4, 3, 1, 0, 0]])
    story[time == 0] = 0  # left-aligned memories, as vectorize writes them
    query = torch.randint(2, 15, (4, 3))
    rows = filled_rows(time, multiple=4)
    assert rows.shape == (12,) and (rows[:10] == (time.flatten() > 0).nonzero().flatten()).all()
    assert (rows[10:] == 24).all()  # padding points one past the last slot
    assert rows.shape[0] <= PACK_BELOW * 24  # sparse enough that the model packs
    dense = model(story, query, time)
    packed = model(story, query, time, rows=rows)
    torch.testing.assert_close(packed.logits, dense.logits)
    for got, want in zip(packed.attention, dense.attention):
        torch.testing.assert_close(got, want)
    grads = [torch.autograd.grad(out.logits.log_softmax(-1)[:, 2].sum(), model.embed) for out in (dense, packed)]
    torch.testing.assert_close(grads[1], grads[0])
    batch = {"story": torch.stack([story, story.flip(0)]), "query": torch.stack([query, query.flip(0)]),
             "time": torch.stack([time, time.flip(0)])}
    batch["rows"] = filled_rows(batch["time"], multiple=4)  # (2, N): one row list per restart
    params = {k: torch.stack([v.detach()] * 2) for k, v in model.named_parameters()}
    run = lambda p, b: torch.func.functional_call(model, p, (), {**b, "rows": b["rows"]}).logits  # noqa: E731
    no_rows = lambda p, b: torch.func.functional_call(model, p, (), b).logits  # noqa: E731
    torch.testing.assert_close(torch.func.vmap(run)(params, batch),
                               torch.func.vmap(no_rows)(params, {k: v for k, v in batch.items() if k != "rows"}))


def test_padding_rows_add_nothing_when_the_last_slot_is_filled():
    """The padding of ``rows`` points past the last slot; a filled last slot must still count once."""
    torch.manual_seed(3)
    model = MemN2N(MemN2NConfig(vocab_size=15, embed_dim=5, hops=2, memory_size=4, sentence_size=6))
    time = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [4, 3, 2, 1]])  # the very last slot is filled
    story = torch.randint(2, 15, (4, 4, 5)) * (time > 0).unsqueeze(-1)
    query = torch.randint(2, 15, (4, 3))
    rows = filled_rows(time, multiple=8)  # 5 filled slots, 3 padding entries
    assert rows.shape[0] <= PACK_BELOW * 16 and rows[4] == 15 and (rows[5:] == 16).all()
    torch.testing.assert_close(model(story, query, time, rows=rows).logits, model(story, query, time).logits)


def test_weight_tying_shares_the_right_parameters():
    adjacent = MemN2N(MemN2NConfig(vocab_size=10, embed_dim=4, hops=3, encoding="position"))
    assert {n: tuple(p.shape) for n, p in adjacent.named_parameters()} == {"embed": (4, 10, 4),
                                                                         "temporal": (4, 50, 4)}
    layerwise = MemN2N(MemN2NConfig(vocab_size=10, embed_dim=4, hops=3, tying="layerwise", encoding="position"))
    assert {n: tuple(p.shape) for n, p in layerwise.named_parameters()} == {
        "embed": (2, 10, 4), "temporal": (2, 50, 4), "query_embed": (1, 10, 4), "answer_embed": (10, 4),
        "hop_map": (4, 4)}
    # adjacent: C_k is A_{k+1}: the gradient of the answer through hop 2's memory reaches embed[1] (C_1 = A_2)
    story, query, time = torch.tensor([[[2, 3], [4, 0]]]), torch.tensor([[2]]), torch.tensor([[2, 1]])
    adjacent(story, query, time).logits[0, 5].backward()
    assert all(adjacent.embed.grad[k].abs().sum() > 0 for k in range(4))


def test_nil_word_stays_zero_and_gets_no_gradient():
    model = MemN2N(MemN2NConfig(vocab_size=8, embed_dim=4, hops=2, encoding="position"))
    assert model.embed[:, 0].abs().sum() == 0
    story, query, time = torch.tensor([[[2, 3, 0], [4, 0, 0]]]), torch.tensor([[2, 0]]), torch.tensor([[2, 1]])
    torch.nn.functional.cross_entropy(model(story, query, time).logits, torch.tensor([3])).backward()
    assert model.embed.grad[:, 0].abs().sum() == 0


def test_empty_slots_are_nil_memories():
    """An empty slot scores 0 and takes softmax weight, but adds nothing to the output (as the authors' code)."""
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(vocab_size=8, embed_dim=4, hops=1, memory_size=3, encoding="position"))
    query, time = torch.tensor([[2]]), torch.tensor([[2, 1, 0]])
    out = model(torch.tensor([[[2, 3], [4, 5], [0, 0]]]), query, time)
    p = out.attention[0][0]
    assert torch.isclose(p.sum(), torch.tensor(1.0)) and p[2] > 0
    # words in a slot that time marks empty are ignored: the slot stays the zero vector
    garbage = model(torch.tensor([[[2, 3], [4, 5], [6, 7]]]), query, time)
    torch.testing.assert_close(garbage.logits, out.logits)
    torch.testing.assert_close(garbage.attention[0], out.attention[0])
    # and a zero vector's score is 0: with the query's embedding at zero every slot scores 0 alike
    with torch.no_grad():
        model.embed[0, 2] = 0
    flat = model(torch.tensor([[[2, 3], [4, 5], [0, 0]]]), query, time).attention[0]
    torch.testing.assert_close(flat, torch.full((1, 3), 1 / 3))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="encoding"):
        MemN2NConfig(vocab_size=5, encoding="lstm")
    with pytest.raises(ValueError, match="hops must be at least 1"):
        MemN2NConfig(vocab_size=5, hops=0, encoding="position")
    with pytest.raises(ValueError, match="needs sentence_size"):
        MemN2NConfig(vocab_size=5, encoding="position-released")
