"""MemNN (Weston, Chopra, Bordes 2014): the ranking loss by hand, the write-time tournament, hashing, N-grams, the
fast long-memory path against ``forward``, and a small training run that learns to find the latest move."""
import math

import pytest
import torch

from memnets.data.babi import load_splits
from memnets.data.generator import write_tasks
from memnets.data.tensors import vectorize
from memnets.data.vocab import Vocab
from memnets.evaluate import support_accuracy, task_errors
from memnets.models.memnn import (MemNN, MemNNConfig, WrittenMemory, kmeans, ngram_ids, target_slots, tournament,
                                  tournament_scan)
from memnets.train import TrainConfig, train


def hand_model(time_features: bool) -> MemNN:
    """Words: 0 <nil>, 1 <unk>, 2 "a", 3 "b"; two dimensions; every weight set by hand."""
    model = MemNN(MemNNConfig(4, embed_dim=2, lookups=1, adaptive=False, ngrams=False, nonlinear=False,
                              time_features=time_features, margin=0.1))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.match_embed[0, 2] = torch.tensor([1.0, 0.0])  # U_O Φx: "a" in the question
        model.match_embed[2, 2] = torch.tensor([1.0, 0.0])  # U_O Φy: memory "a"
        model.match_embed[2, 3] = torch.tensor([0.95, 0.0])  # memory "b": s_O = 0.95, inside the margin
        model.response_embed[0, 2] = torch.tensor([1.0, 0.0])  # U_R Φx: "a" in the question
        model.response_embed[2, 2] = torch.tensor([0.0, 1.0])  # U_R Φx: "a" in the last memory found
        model.answer_embed[2] = torch.tensor([0.5, 0.5])  # s_R(r, "a") = 1.0
        model.answer_embed[3] = torch.tensor([0.5, 0.55])  # s_R(r, "b") = 1.05, the gold answer
        if time_features:
            model.time_embed[2] = torch.tensor([0.02, 0.0])  # weight of "y older than y'"
    return model


def hand_batch() -> dict:
    # memory: slot 0 "a" (older), slot 1 "b"; question "a"; supporting fact slot 0; answer "b"
    return {"story": torch.tensor([[[2], [3]]]), "query": torch.tensor([[2]]), "time": torch.tensor([[2, 1]]),
            "supports": torch.tensor([[0]]), "answer": torch.tensor([3])}


def test_ranking_loss_by_hand_without_time_features():
    model, batch = hand_model(False), hand_batch()
    loss, wrong = model.loss(model(**model.inputs(batch, False, True)), batch)
    # O: max(0, 0.1 - 1 + 0.95) = 0.05. R: words <unk> (score 0) and "a" (1.0) against "b" (1.05):
    # max(0, 0.1 - 1.05 + 0) = 0 and max(0, 0.1 - 1.05 + 1.0) = 0.05.
    assert loss.item() == pytest.approx(0.05 + 0.05, abs=1e-6)
    assert wrong.item() == 0


def test_ranking_loss_by_hand_with_time_features():
    model, batch = hand_model(True), hand_batch()
    loss, _ = model.loss(model(**model.inputs(batch, False, True)), batch)
    # c3 = a . t3 = 0.02 (a = [1, 0]). s_Ot(x, gold, f) = 1 - 0.95 + c3 (gold is older) must exceed 0.1:
    # max(0, 0.1 - 0.07) = 0.03; s_Ot(x, f, gold) = 0.95 - 1 (f is newer: no c3) must be below -0.1:
    # max(0, 0.1 - 0.05) = 0.05. R as before: 0.05.
    assert loss.item() == pytest.approx(0.03 + 0.05 + 0.05, abs=1e-6)


def test_loss_gradient_moves_scores_apart():
    model, batch = hand_model(False), hand_batch()
    for p in model.parameters():
        p.requires_grad_(True)
    loss, _ = model.loss(model(**model.inputs(batch, False, True)), batch)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    after, _ = model.loss(model(**model.inputs(batch, False, True)), batch)
    assert after.item() < loss.item()


def ages(n):
    return torch.arange(n, 0, -1).unsqueeze(0)  # slot 0 is the oldest


@pytest.mark.parametrize("c3, expected", [(-0.1, 4), (0.1, 0)])
def test_tournament_hands_equal_memories_to_the_newer_or_the_older(c3, expected):
    scores = torch.ones(1, 5)  # five memories that match x equally
    winner = tournament(scores, torch.tensor([[0.0, 0.0, c3]]), ages(5), torch.tensor([0]), torch.ones(1, 5, dtype=bool))
    assert winner.item() == expected


def test_tournament_prefers_the_latest_memory_older_than_x():
    # x was written after slot 2 (age 3); "x older than y'" (c2) holds off slots 3 and 4, "y older than y'" (c3 < 0)
    # hands the win to the newest of slots 0-2
    scores = torch.ones(1, 5)
    x_age = torch.tensor([3])
    win = tournament(scores, torch.tensor([[0.0, 1.0, -0.1]]), ages(5), x_age, torch.ones(1, 5, dtype=bool))
    assert win.item() == 2
    # without the "x older than y'" weight, the newest memory of all wins
    win = tournament(scores, torch.tensor([[0.0, 0.0, -0.1]]), ages(5), x_age, torch.ones(1, 5, dtype=bool))
    assert win.item() == 4


def test_tournament_skips_memories_not_allowed_and_plain_scores_give_the_argmax():
    scores = torch.tensor([[0.1, 0.9, 0.3, 0.8]])
    allowed = torch.tensor([[True, False, True, True]])
    win = tournament(scores, torch.zeros(1, 3), ages(4), torch.tensor([0]), allowed)
    assert win.item() == 3  # slot 1 scores best but is not a candidate
    assert tournament(scores, torch.zeros(1, 3), ages(4), torch.tensor([0]), torch.zeros(1, 4, dtype=bool)).item() == -1


def test_the_scalar_tournament_agrees_with_the_batched_one():
    g = torch.Generator().manual_seed(0)
    for trial in range(200):
        n = int(torch.randint(1, 40, (1,), generator=g))
        scores = torch.randn(n, generator=g).round(decimals=1)  # ties happen
        weights = torch.randn(3, generator=g)
        x_age = int(torch.randint(0, n + 1, (1,), generator=g))
        age = torch.arange(n, 0, -1)
        slow = tournament(scores.unsqueeze(0), weights.unsqueeze(0), age.unsqueeze(0), torch.tensor([x_age]),
                          torch.ones(1, n, dtype=bool))
        assert tournament_scan(scores, weights, age, x_age) == slow.item(), trial


def test_target_slots_with_and_without_adaptive_memory():
    supports = torch.tensor([[4, 2, -1], [7, -1, -1], [1, 2, 3]])
    assert target_slots(supports, 3, True, 10).tolist() == [[4, 2, 10], [7, 10, -1], [1, 2, 3]]
    assert target_slots(supports, 2, False, 10).tolist() == [[4, 2], [7, 7], [1, 2]]


def test_ngram_ids_cover_bigrams_and_trigrams_and_skip_padding():
    ids = torch.tensor([[5, 6, 7, 0]])
    grams = ngram_ids(ids, 4096)
    assert grams.shape == (1, 8)
    assert (grams[0, :2] > 0).all() and grams[0, 2:4].eq(0).all()  # bigrams 5-6 and 6-7, none into the padding
    assert grams[0, 4] > 0 and grams[0, 5:].eq(0).all()  # one trigram, 5-6-7
    assert grams.max() <= 4096
    assert ngram_ids(torch.tensor([[6, 5, 7]]), 4096)[0, 0] != grams[0, 0]  # word order matters


def test_word_order_changes_the_score_only_with_ngrams():
    torch.manual_seed(0)
    for ngrams, differs in ((True, True), (False, False)):
        model = MemNN(MemNNConfig(10, ngrams=ngrams, lookups=1, adaptive=False))
        with torch.no_grad():  # N-gram rows start at zero; give them values as training would
            model.match_embed[:, 10:] = torch.randn_like(model.match_embed[:, 10:])
        story = torch.tensor([[[4, 5, 6], [6, 5, 4]]])  # the same words in two orders
        out = model(story, torch.tensor([[4, 5]]), torch.tensor([[2, 1]]))
        assert bool((out.scores[0, 0, 0] - out.scores[0, 0, 1]).abs() > 1e-5) is differs


def test_shapes_and_stop_ends_the_lookups():
    torch.manual_seed(0)
    model = MemNN(MemNNConfig(12, lookups=3, nonlinear=False))
    with torch.no_grad():
        model.stop_embed.mul_(8)  # STOP strong enough to win some lookups and lose others
    story, query = torch.randint(2, 12, (64, 6, 5)), torch.randint(2, 12, (64, 3))
    time = torch.tensor([6, 5, 4, 3, 2, 1]).repeat(64, 1)
    time[-1, 2:] = 0  # a story of two sentences
    out = model(story, query, time)
    assert out.logits.shape == (64, 12) and out.selected.shape == (64, 3) and out.scores.shape == (64, 3, 7)
    assert len(out.attention) == 3 and all(a.shape == (64, 6) for a in out.attention)
    first = out.selected[:, 0]
    stop_beats_all = out.scores[:, 0, 6] > out.scores[:, 0, :6].max(-1).values
    assert stop_beats_all.any() and (~stop_beats_all).any()
    assert (first[stop_beats_all] == 6).all()  # STOP outscores the tournament's winner, whoever it is
    assert first[-1] in (0, 1, 6)  # empty slots are never looked up
    for row in out.selected.tolist():  # after STOP nothing more is looked up
        if 6 in row:
            assert all(s == -1 for s in row[row.index(6) + 1:])
    for j in range(3):  # attention marks the slot each lookup selected
        picked = out.selected[:, j]
        real = (picked >= 0) & (picked < 6)
        assert torch.equal(out.attention[j][real].argmax(-1), picked[real])
        assert out.attention[j][~real].sum() == 0


def test_written_memory_answers_as_forward_does():
    torch.manual_seed(1)
    for adaptive in (True, False):
        model = MemNN(MemNNConfig(15, lookups=3, adaptive=adaptive)).eval()
        story = torch.randint(1, 15, (1, 12, 4))
        story[0, :, 3] = 0  # sentences of three words
        query = torch.randint(2, 15, (1, 3))
        out = model(story, query, torch.arange(12, 0, -1).unsqueeze(0))
        memory = WrittenMemory(model, "none")
        memory.write([sentence[sentence > 0].tolist() for sentence in story[0, :5]])  # written in two batches
        memory.write([sentence[sentence > 0].tolist() for sentence in story[0, 5:]])
        answer, chosen, scored = memory.answer(query[0].tolist())
        assert answer == out.logits[0].argmax().item()
        expected = [s if 0 <= s < 12 else None for s in out.selected[0].tolist()]
        assert chosen == expected
        assert scored >= 12  # without hashing, every memory is scored at each lookup


def test_word_hashing_buckets():
    model = MemNN(MemNNConfig(10, ngrams=False))
    memory = WrittenMemory(model, "word")
    memory.write([[2, 3], [4, 5], [3, 6], [7]])
    assert memory.buckets[3] == [0, 2] and memory.buckets[7] == [3]
    assert memory.candidates(torch.tensor([3, 9])).tolist() == [0, 2]  # word 9 is in no memory
    assert memory.candidates(torch.tensor([5, 7])).tolist() == [1, 3]
    assert WrittenMemory(model, "none").candidates(torch.tensor([3])).tolist() == []  # nothing written
    with pytest.raises(ValueError, match="hashing must be"):
        WrittenMemory(model, "lsh")


def test_cluster_hashing_groups_words_with_similar_embeddings():
    points = torch.cat([torch.randn(20, 4) * 0.01 + 5, torch.randn(20, 4) * 0.01 - 5])
    assign = kmeans(points, 2, seed=0)
    assert len(set(assign[:20].tolist())) == 1 and len(set(assign[20:].tolist())) == 1
    assert assign[0] != assign[20]
    model = MemNN(MemNNConfig(6, ngrams=False))
    with torch.no_grad():
        model.match_embed[2, 2:4] = 3.0  # words 2 and 3 close together, 4 and 5 far away
        model.match_embed[2, 4:6] = -3.0
        model.match_embed[2, :2] = 0.0
    memory = WrittenMemory(model, "cluster", clusters=3)
    memory.write([[2], [4], [3], [5]])
    assert memory.candidates(torch.tensor([2])).tolist() == [0, 2]  # word 3 shares word 2's cluster
    assert memory.candidates(torch.tensor([5])).tolist() == [1, 3]


@pytest.fixture(scope="module")
def task1():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        write_tasks(folder, [1], 500, seed=0, test_questions=200)
        splits = load_splits(folder, [1], "en", 0.1)
    vocab = Vocab.build(splits["train"] + splits["valid"])
    memory = max(len(r.story) for r in splits["train"])
    return vocab, {k: vectorize(v, vocab, memory) for k, v in splits.items()}, memory


def test_strong_supervision_finds_the_latest_move(task1):
    """Generated task 1: "where is Mary?" is answered by her latest move, which only write time can single out
    among her moves; trained with the supporting facts, the lookups find it."""
    vocab, data, memory = task1
    cfg = MemNNConfig(len(vocab), memory_size=memory, lookups=1, ngrams=False)
    result = train("memnn", cfg, data["train"], data["valid"],
                   TrainConfig(epochs=8, anneal_every=4, linear_start=False, random_noise=0, compile=False, restarts=2),
                   vocab, {}, progress=False)
    assert support_accuracy(result.model, data["test"])["1"] >= 95
    assert task_errors(result.model, data["test"])[1] <= 5
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0] / 3
    assert not math.isnan(losses[-1])
