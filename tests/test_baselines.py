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


@pytest.mark.parametrize("name", list(MODELS))
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
