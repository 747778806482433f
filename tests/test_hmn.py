"""HMNet (issue #11), part by part on tiny shapes: region weights sum to one and factor as α_r · β_i|r, the content
read has no parameters and is softmax(M u)ᵀ M, switching a part off changes only that part, top_k touches R + k·s
rows, restarts train under vmap, and a model trained from the command line is saved, loaded and asked."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from memnets import checkpoint, experiment
from memnets.data.tensors import KB_MARKER, vectorize
from memnets.data.babi import QARecord
from memnets.data.vocab import Vocab
from memnets.models.encoders import encode, position_weights, sentence_bags
from memnets.models.hmn import HMNet, HMNetConfig
from test_cli import run_cli

V, M, J, S = 30, 23, 6, 5  # vocabulary, memory rows, words per sentence, rows per region: R = 5, the last partial


def batch(lengths=(23, 10, 3, 1), seed=0):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    story = torch.randint(1, V, (b, M, J), generator=g)
    time = torch.zeros(b, M, dtype=torch.long)
    for i, n in enumerate(lengths):
        time[i, :n] = torch.arange(n, 0, -1)
        story[i, n:] = 0
    kind = (torch.rand(b, M, generator=g) < 0.3).long() * (time > 0)
    return {"story": story, "query": torch.randint(1, V, (b, 4), generator=g), "time": time, "kind": kind}


def model(seed=0, **options) -> HMNet:
    torch.manual_seed(seed)
    options = {"regions": True, **options}  # M = 23 rows: below REGIONS_FROM, so region attention is asked for
    return HMNet(HMNetConfig(vocab_size=V, memory_size=M, region_size=S, sentence_size=J, embed_dim=8, **options))


def rows_and_query(net: HMNet, x: dict, embedding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The memory rows (in word embedding ``embedding``) and question vector (in embedding 0), computed here from
    the parts' definitions, not by the model."""
    cfg = net.config
    w = position_weights(net.embed, True)
    enc = (cfg.encoding, cfg.embed_dim, cfg.sentence_size)
    rows = encode(sentence_bags(x["story"], V, *enc), w)[..., embedding, :]
    if cfg.memory_types:
        rows = rows + net.type_embed[x["kind"]]
    if cfg.temporal:
        rows = rows + net.temporal_embed[(x["time"] - 1).clamp(min=0)]
    rows = rows * (x["time"] > 0).unsqueeze(-1)
    return rows, encode(sentence_bags(x["query"], V, *enc), w)[:, 0]


@torch.no_grad()
def test_adjacent_tying_addresses_embedding_t_and_reads_embedding_t_plus_one():
    shared, adjacent = model(tying="shared"), model(tying="adjacent")
    assert shared.embed.shape[0] == 1 and adjacent.embed.shape[0] == adjacent.config.hops + 1
    # the default: adjacent without region attention, shared with it (docs/results/hmn-long.md)
    assert model(regions=False).config.tying == "adjacent" and model().config.tying == "shared"
    assert HMNetConfig(vocab_size=V, sentence_size=J, memory_size=1000).tying == "shared"
    assert set(dict(shared.named_parameters())) == set(dict(adjacent.named_parameters()))  # wider, no new ones
    only_read = dict(memory_types=False, temporal=False, attention_gru=False, output_memory=False, regions=False)
    net, x = model(tying="adjacent", **only_read), batch()
    rows, q = rows_and_query(net, x, embedding=0)
    scores = (rows * q.unsqueeze(1)).sum(-1).masked_fill(x["time"] == 0, float("-inf"))
    before = net(**x)
    assert torch.allclose(before.attention[0], scores.softmax(-1), atol=1e-5)  # hop 1 addresses embedding 0
    net.embed[1].normal_()  # hop 1 reads through embedding 1, which hop 2 addresses: hop 1's weights stay
    after = net(**x)
    assert torch.equal(after.attention[0], before.attention[0])
    assert not torch.allclose(after.attention[1], before.attention[1])
    assert not torch.allclose(after.logits, before.logits)
    net.embed[0].normal_()
    assert not torch.allclose(net(**x).attention[0], before.attention[0])
    with pytest.raises(ValueError, match="tying"):
        HMNetConfig(vocab_size=V, sentence_size=J, tying="layerwise")


@torch.no_grad()
def test_linear_start_removes_the_read_softmaxes_and_keeps_the_gates():
    net, x = model(regions=False), batch()
    rows, q = rows_and_query(net, x)
    soft, linear = net(**x), net(**x, linear=True)
    scores = (rows * q.unsqueeze(1)).sum(-1) * (x["time"] > 0)  # m_i · u, no softmax, empty slots 0
    assert torch.allclose(linear.attention[0], scores, atol=1e-5)
    assert torch.allclose(soft.attention[0], scores.masked_fill(x["time"] == 0, float("-inf")).softmax(-1),
                          atol=1e-5)
    assert not torch.allclose(linear.output_attention[0], soft.output_attention[0])  # ω unnormalised
    assert torch.allclose(soft.output_attention[0].sum(-1), torch.ones(len(x["time"])))
    assert torch.allclose(linear.gates[0], soft.gates[0])  # hop 1's gates: softmax-normalised either way
    assert torch.allclose(linear.gates[0].sum(-1), torch.ones(len(x["time"])), atol=1e-5)
    per_restart = net(**x, linear=torch.tensor(True))  # as the training loop passes it, one flag per restart
    assert torch.equal(per_restart.logits, linear.logits)


def region_of_slots(time: torch.Tensor) -> torch.Tensor:
    """Region of every slot, counted from the most recent statement: (time - 1) // s; -1 for empty slots."""
    return torch.where(time > 0, (time - 1) // S, -1)


@torch.no_grad()
def test_region_weights_sum_to_one_and_factor():
    net, x = model(), batch()
    out = net(**x)
    rows, q = rows_and_query(net, x)
    region = region_of_slots(x["time"])
    assert len(out.attention) == len(out.regions) == 3
    for hop_weights, alpha in zip(out.attention, out.regions):
        assert torch.allclose(hop_weights.sum(-1), torch.ones(4), atol=1e-5)
        assert torch.allclose(alpha.sum(-1), torch.ones(4), atol=1e-5)
        assert (hop_weights[x["time"] == 0] == 0).all()
        for b in range(4):
            for r in range(alpha.shape[1]):
                in_r = region[b] == r
                # a row's weight summed over its region is α_r (0 for regions without rows)
                assert hop_weights[b, in_r].sum() == pytest.approx(alpha[b, r].item(), abs=1e-5)
    # hop 1 reads with u = q: within each region, β_i|r is the parameter-free softmax of m_i · q
    scores = (rows * q.unsqueeze(1)).sum(-1)
    for b in range(4):
        for r in range(out.regions[0].shape[1]):
            in_r = region[b] == r
            if in_r.any():
                beta = out.attention[0][b, in_r] / out.regions[0][b, r]
                assert torch.allclose(beta, scores[b, in_r].softmax(-1), atol=1e-4)


@pytest.mark.parametrize("pool", ["max", "sum"])
@torch.no_grad()
def test_region_summaries_pool_the_locally_weighted_rows(pool):
    net, x = model(region_pool=pool), batch()
    with torch.no_grad():  # distinct weights per region position and a bias, so a wrong position or pool shows
        net.region_attention.local_weight.normal_()
        net.region_attention.local_bias.normal_()
    out = net(**x)
    rows, q = rows_and_query(net, x)
    weight, bias = net.region_attention.local_weight, net.region_attention.local_bias  # (R, s, d), (R, d)
    recency = (x["time"] - 1).clamp(min=0)  # 0 = the most recent row
    for b in range(4):
        scores = []
        for r in range(weight.shape[0]):
            in_r = region_of_slots(x["time"])[b] == r
            if not in_r.any():
                scores.append(float("-inf"))
                continue
            weighted = rows[b, in_r] * weight[r, recency[b, in_r] % S]  # (rows of r, d)
            summary = (weighted.amax(0) if pool == "max" else weighted.sum(0)) + bias[r]
            scores.append((summary * q[b]).sum().item())
        assert torch.allclose(out.regions[0][b], torch.tensor(scores).softmax(-1), atol=1e-5)


def test_max_pooled_regions_find_one_rare_row_that_a_sum_dilutes():
    """One row holds a feature that the question asks for; the region holding it wins α under max pooling, and
    a sum over its region's other rows, all at the start's equal weights, scores it lower."""
    d, s = 4, 8
    rows = torch.zeros(1, 3, s, d)
    rows[..., 1] = 1.0  # a common feature in every row
    rows[0, 2, 5, 0] = 3.0  # the rare row, in region 2
    filled = torch.ones(1, 3, s, dtype=torch.bool)
    u = torch.tensor([[1.0, -0.5, 0.0, 0.0]])  # asks for feature 0, against the common one
    from memnets.models.hmn import RegionAttention
    alpha_max = RegionAttention(3, s, d, "max")(rows, filled, u)
    alpha_sum = RegionAttention(3, s, d, "sum")(rows, filled, u)
    assert alpha_max.argmax().item() == 2 and alpha_max[0, 2] > 0.9
    assert alpha_sum[0, 2] < alpha_max[0, 2]
    # the oldest region, partly filled: its empty rows (zero vectors) must not win the max over negative rows
    filled[0, 2, 4:] = False
    rows[0, 2] = -1.0
    rows[0, 2, 4:] = 0.0
    alpha = RegionAttention(3, s, d, "max")(rows, filled, u)
    summaries = torch.tensor([[0.0, 1, 0, 0], [0.0, 1, 0, 0], [-1.0, -1, -1, -1]])  # max over filled rows only
    assert torch.allclose(alpha[0], (summaries @ u[0]).softmax(-1), atol=1e-6)


@torch.no_grad()
def test_gates_factor_by_region_and_sum_to_one():
    net, x = model(), batch()
    out = net(**x)
    region = region_of_slots(x["time"])
    for gate, alpha in zip(out.gates, out.regions):
        assert torch.allclose(gate.sum(-1), torch.ones(4), atol=1e-5)
        for b in range(4):
            for r in range(alpha.shape[1]):
                assert gate[b, region[b] == r].sum() == pytest.approx(alpha[b, r].item(), abs=1e-5)


def test_content_read_has_no_parameters_and_is_softmax_of_memory_times_query():
    only_read = dict(memory_types=False, temporal=False, attention_gru=False, output_memory=False, regions=False)
    with_read, without = model(**only_read), model(**only_read, content_read=False)
    names = dict(with_read.named_parameters())
    assert set(names) == set(dict(without.named_parameters()))  # the read adds no parameter of its own
    d = with_read.config.embed_dim
    assert names["controller"].shape[1] == without.controller.shape[1] + d  # only the controller reads c
    x = batch()
    with torch.no_grad():
        out = with_read(**x)
        rows, q = rows_and_query(with_read, x)
    scores = (rows * q.unsqueeze(1)).sum(-1).masked_fill(x["time"] == 0, float("-inf"))
    assert torch.allclose(out.attention[0], scores.softmax(-1), atol=1e-5)
    assert out.regions == () and out.gates == () and out.output_attention == ()


PART_PARAMETERS = {  # the parameters each part owns (besides the controller's width, for parts 2-4)
    "memory_types": {"type_embed"}, "temporal": {"temporal_embed"}, "content_read": set(),
    "attention_gru": {"gate.", "gru.", "region_gru."}, "output_memory": {"write"},
    "regions": {"region_attention.", "region_gru."},
}


@pytest.mark.parametrize("part", list(PART_PARAMETERS))
def test_switching_a_part_off_changes_only_that_part(part):
    full, off = model(), model(**{part: False})
    full_names, off_names = set(dict(full.named_parameters())), set(dict(off.named_parameters()))
    owned = {n for n in full_names if any(n.startswith(p) for p in PART_PARAMETERS[part])}
    assert off_names == full_names - owned
    shared = {k: v for k, v in full.state_dict().items() if k in off_names and v.shape == off.state_dict()[k].shape}
    off.load_state_dict({**off.state_dict(), **shared})
    x = batch()
    with torch.no_grad():
        a, b = full(**x), off(**x)
    if part in ("memory_types", "temporal"):  # the rows change; with that embedding zeroed the full model agrees
        with torch.no_grad():
            getattr(full, "type_embed" if part == "memory_types" else "temporal_embed").zero_()
            a = full(**x)
        assert torch.allclose(a.attention[0], b.attention[0], atol=1e-6)
        assert torch.allclose(a.gates[0], b.gates[0], atol=1e-6)
        return
    # hop 1 depends only on the question and the memory: the parts left on see exactly what they saw before
    if part != "regions":
        assert torch.allclose(a.attention[0], b.attention[0]) and torch.allclose(a.regions[0], b.regions[0])
    if part not in ("attention_gru", "regions"):
        assert torch.allclose(a.gates[0], b.gates[0])
    assert (b.gates == ()) == (part == "attention_gru")
    assert (b.output_attention == ()) == (part == "output_memory")
    assert (b.regions == ()) == (part == "regions")
    if part == "output_memory":
        assert [o.shape[1] for o in a.output_attention] == [1, 2, 3]  # the query, then each earlier hop's state


@torch.no_grad()
def test_top_k_reads_k_regions():
    net, x = model(top_k=2), batch()
    assert net.config.region_count == 5 and net.config.kept_regions == 2  # R + k*s = 5 + 10 rows touched
    out = net(**x)
    region = region_of_slots(x["time"])
    for hop_weights, gate in zip(out.attention, out.gates):
        for b in range(4):
            read = set(region[b, hop_weights[b] > 0].tolist()) | set(region[b, gate[b] > 0].tolist())
            assert len(read) <= 2
        assert torch.allclose(hop_weights.sum(-1), torch.ones(4), atol=1e-5)
    # the kept regions are those of largest α: all rows of the story's most-attended regions
    alpha = out.regions[0]
    for b in range(4):
        best = set(alpha[b].topk(2).indices.tolist())
        assert set(region[b, out.attention[0][b] > 0].tolist()) <= best


@torch.no_grad()
def test_attention_gru_reads_in_order():
    """The same rows in another order give another episode: the GRU (part 3) is order-sensitive."""
    net = model(content_read=False, output_memory=False, regions=False, temporal=False, memory_types=False)
    x = batch(lengths=(23, 23, 23, 23))
    y = dict(x, story=x["story"].flip(1))
    assert not torch.allclose(net(**x).logits, net(**y).logits)


def test_kb_facts_are_a_memory_type():
    vocab = Vocab(["<nil>", "<unk>", "mary", "is", "in", "the", "kitchen", "where", "a", "room"])
    record = QARecord(("Mary is in the kitchen.", f"{KB_MARKER} the kitchen is a room."), "Where is Mary?",
                      "kitchen", (0,), 1)
    b = vectorize([record], vocab, 4)
    assert b.kind[0].tolist() == [0, 1, 0, 0]
    assert b.story[0, 1].tolist()[:5] == vocab.encode(["the", "kitchen", "is", "a", "room"])  # marker not encoded


def test_restarts_train_under_vmap_and_the_loss_falls(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMNETS_DATA", raising=False)
    code, out, err = run_cli(["train", "--model", "hmn", "--task", "1", "--questions", "200", "--epochs", "8",
                              "--restarts", "2", "--embed-dim", "16", "--no-compile", "--regions", "--quiet",
                              "--tying", "adjacent", "--linear-start", "--ls-epochs", "2",
                              "--examples", "1", "--out", "run"], capsys)  # every part on, for ask to show
    assert code == 0, err
    _, meta = checkpoint.load(tmp_path / "run" / "task01" / "last.safetensors")
    losses = [h["loss"] for h in meta["state"]["history"]]
    assert meta["state"]["history"][0]["linear"] == [True, True]  # linear start, as asked
    assert losses[-1] < losses[0] * 0.9
    assert "gate 1" in out  # the examples show the GRU gates beside each hop's read
    # save, load, ask: the checkpoint rebuilds the model, and ask prints every attention
    story = tmp_path / "story.txt"
    story.write_text("1 Mary moved to the kitchen.\n2 John went to the garden.\n3 Where is Mary?\n")
    code, out, err = run_cli(["ask", "run/task01/checkpoint.safetensors", "--file", story], capsys)
    assert code == 0, err
    assert "A: " in out and "regions (most recent first)" in out and "output memory" in out and "gate 3" in out
    net, vocab, _ = checkpoint.load_model(tmp_path / "run" / "task01" / "checkpoint.safetensors")
    found = experiment.answer(net, vocab, ["Mary moved to the kitchen.", "John went to the garden."],
                              "Where is Mary?")
    assert found.answer in out and len(found.parts["gate"]) == 3 and len(found.weights[0]) == 2
    assert dataclasses.asdict(net.config)["top_k"] == 0
    code, out, err = run_cli(["eval", "run"], capsys)  # eval rebuilds it through the same load path
    assert code == 0 and "task 1" in out, err


def test_region_attention_defaults_on_from_regions_from_rows():
    from memnets.models.hmn import REGIONS_FROM

    def cfg(rows, **options):
        return HMNetConfig(vocab_size=V, memory_size=rows, sentence_size=J, **options)

    assert not cfg(REGIONS_FROM - 1).regions and cfg(REGIONS_FROM - 1).region_count == 1
    assert cfg(REGIONS_FROM).regions and cfg(REGIONS_FROM).region_count == REGIONS_FROM // 10
    assert cfg(20, regions=True).regions and not cfg(1000, regions=False).regions  # asked for, either way
    # resolved once: a config sized later to shorter stories keeps what it was built with, as its checkpoint does
    assert dataclasses.replace(cfg(1000), memory_size=20).regions


def test_checkpoints_from_before_region_pool_load_and_resume_as_summed(tmp_path, monkeypatch, capsys):
    """Region summaries were summed before ``region_pool`` existed: such a checkpoint loads with "sum", and a run
    from then resumes only when asked for summed regions, never silently switched to today's max."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMNETS_DATA", raising=False)
    args = ["train", "--model", "hmn", "--task", "1", "--questions", "60", "--embed-dim", "8", "--no-compile",
            "--regions", "--tying", "shared", "--no-linear-start", "--quiet", "--examples", "0", "--out", "run"]
    code, _, err = run_cli(args + ["--epochs", "1"], capsys)
    assert code == 0, err
    for name in ("checkpoint.safetensors", "last.safetensors"):  # as a checkpoint of that time was written
        path = tmp_path / "run" / "task01" / name
        tensors, meta = checkpoint.load(path)
        config = meta["config"] if "config" in meta else meta["model_config"]
        assert config.pop("region_pool") == "max" and config.pop("tying") == "shared"
        checkpoint.save(path, tensors, meta)
    (tmp_path / "run" / "task01" / "result.json").unlink()  # unfinished, so that --resume reads last.safetensors
    net, _, _ = checkpoint.load_model(tmp_path / "run" / "task01" / "checkpoint.safetensors")
    assert net.config.region_pool == "sum" and net.region_attention.pool == "sum"
    assert net.config.tying == "shared" and net.embed.shape[0] == 1  # nor did it tie embeddings adjacently
    assert HMNetConfig(vocab_size=V, sentence_size=J).tying == "adjacent"  # today's default
    code, _, err = run_cli(args + ["--epochs", "1", "--resume"], capsys)
    assert code != 0 and "region_pool = 'sum'" in err and "'max'" in err
    code, _, err = run_cli(args + ["--epochs", "1", "--resume", "--region-pool", "sum"], capsys)
    assert code == 0, err
    # a finished task of that time: its result.json is kept on --resume only under the same pooling
    done = tmp_path / "run" / "task01" / "result.json"
    finished = json.loads(done.read_text())
    assert finished["options"]["model"].pop("region_pool") == "sum"
    done.write_text(json.dumps(finished))
    code, _, err = run_cli(args + ["--epochs", "1", "--resume"], capsys)
    assert code != 0 and "region_pool = 'sum'" in err
    code, out, err = run_cli(args + ["--epochs", "1", "--resume", "--region-pool", "sum"], capsys)
    assert code == 0, err
