"""The LSTM and Transformer baselines of issue #11: empty memory slots change nothing, the order of the story
matters, the question token never attends to an empty slot, and both train through the one pipeline."""
from __future__ import annotations

import pytest
import torch

from memnets import checkpoint
from memnets.models.lstm import LSTMConfig, LSTMReader
from memnets.models.transformer import SentenceTransformer, TransformerConfig
from test_cli import run_cli

V, M, J = 25, 12, 5


def batch(lengths=(12, 7, 2)):
    g = torch.Generator().manual_seed(1)
    b = len(lengths)
    story = torch.randint(1, V, (b, M, J), generator=g)
    time = torch.zeros(b, M, dtype=torch.long)
    for i, n in enumerate(lengths):
        time[i, :n] = torch.arange(n, 0, -1)
        story[i, n:] = 0
    return {"story": story, "query": torch.randint(1, V, (b, 3), generator=g), "time": time}


MODELS = {"lstm": lambda: LSTMReader(LSTMConfig(V, embed_dim=8, memory_size=M)),
          "lstm-sentences": lambda: LSTMReader(LSTMConfig(V, embed_dim=8, memory_size=M, reads="sentences")),
          "transformer": lambda: SentenceTransformer(TransformerConfig(V, embed_dim=8, memory_size=M))}


@pytest.mark.parametrize("name", list(MODELS))
@torch.no_grad()
def test_empty_slots_change_nothing_and_order_matters(name):
    torch.manual_seed(0)
    net, x = MODELS[name](), batch()
    out = net(**x)
    assert out.logits.shape == (3, V) and torch.isinf(out.logits[:, 0]).all()
    noisy = dict(x, story=torch.where((x["time"] > 0).unsqueeze(-1), x["story"], torch.randint(1, V, x["story"].shape)))
    assert torch.allclose(net(**noisy).logits, out.logits, atol=1e-6)  # words in empty slots are never read
    swapped = x["story"].clone()
    swapped[0, [0, 5]] = swapped[0, [5, 0]]
    assert not torch.allclose(net(**dict(x, story=swapped)).logits[0], out.logits[0])  # order (or age) matters
    for a in out.attention:  # the Transformer's question token: statements and itself, never an empty slot
        assert (a[x["time"] == 0] == 0).all() and ((a.sum(-1) > 0) & (a.sum(-1) < 1)).all()


@torch.no_grad()
def test_word_reader_reads_words_in_order_and_ignores_padding():
    """The word-level reader's state is that of nn.LSTM run over exactly the story's words, oldest first, and then
    the question's: the padding inside and after sentences, and empty slots, are skipped."""
    torch.manual_seed(0)
    net, x = MODELS["lstm"](), batch((4, 1))
    x["story"][:, :, 3:] = 0  # sentences of three words and padding
    for i in range(2):
        words = [w for s in x["story"][i][x["time"][i] > 0] for w in s.tolist() if w] + x["query"][i].tolist()
        _, (h, _) = net.rnn(net.embed[0][torch.tensor(words)].unsqueeze(0))  # one unpadded sequence
        assert torch.allclose(net(**{k: v[i: i + 1] for k, v in x.items()}).logits[0, 1:],
                              (h[0, 0] @ net.answer_map)[1:], atol=1e-6)
    both = net(**x).logits  # two stories of different lengths in one batch: the same answers
    assert torch.allclose(both[0], net(**{k: v[:1] for k, v in x.items()}).logits[0], atol=1e-6)


def test_restarts_that_vmap_cannot_batch_run_one_after_another():
    """over_restarts without vmap gives what vmap gives: each restart's outputs stacked."""
    from memnets.train import over_restarts

    def fn(p, x, scale):
        return (p["w"] * x).sum() * scale, (p["w"] > 0).sum()

    p, x, scale = {"w": torch.randn(3, 4)}, torch.randn(3, 4), torch.tensor(2.0)
    batched = over_restarts(fn, (0, 0, None), 3)(p, x, scale)
    looped = over_restarts(fn, (0, 0, None), 3, vmappable=False)(p, x, scale)
    assert all(torch.allclose(a, b) for a, b in zip(batched, looped)) and looped[0].shape == (3,)


def test_lstm_checkpoints_from_before_the_word_reader_load_as_sentence_readers():
    assert LSTMConfig(V, **checkpoint.with_earlier_fields(LSTMConfig, {"embed_dim": 8})).reads == "sentences"
    assert LSTMConfig(V).reads == "words"
    with pytest.raises(ValueError, match="reads"):
        LSTMConfig(V, reads="characters")


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_baseline_trains_through_the_pipeline(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMNETS_DATA", raising=False)
    code, out, err = run_cli(["train", "--model", name, "--task", "1", "--questions", "200", "--epochs", "6",
                              "--restarts", "2", "--embed-dim", "16", "--no-compile", "--quiet", "--examples", "1",
                              "--out", "run"], capsys)
    assert code == 0, err
    _, meta = checkpoint.load(tmp_path / "run" / "task01" / "last.safetensors")
    losses = [h["loss"] for h in meta["state"]["history"]]
    assert losses[-1] < losses[0]
    net, vocab, _ = checkpoint.load_model(tmp_path / "run" / "task01" / "checkpoint.safetensors")
    assert type(net) is type(MODELS[name]())
