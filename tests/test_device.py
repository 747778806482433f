"""Devices belong to the caller: ``--device cpu|cuda|auto`` picks one, and no model creates a tensor elsewhere.

The models are checked on PyTorch's "meta" device, which holds shapes and no data: any tensor a model makes on the
CPU by itself (a ``torch.arange`` without ``device=``) meets a meta tensor and raises, so the check needs no GPU.
The CUDA test runs where a GPU is present (the device machine) and is skipped elsewhere (CI).
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from memnets import experiment
from memnets.data.babi import load_splits
from memnets.data.generator import write_tasks
from memnets.data.tensors import vectorize
from memnets.data.vocab import Vocab
from memnets.models import MODELS
from memnets.train import TrainConfig, train
from test_cli import FAST, run_cli

BABI_MODELS = ["memn2n", "memnn", "hmn", "lstm", "transformer"]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.fixture(scope="module")
def task2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    write_tasks(folder, [2], 60, seed=0)
    splits = load_splits(folder, [2], "en", 0.1)
    return splits, Vocab.build(splits["train"] + splits["valid"])


def sized(name: str, splits, vocab):
    config, train_cfg = experiment.configs(name, False, {}, {}, len(vocab))
    return experiment.fit_to_data(config, splits["train"]), train_cfg


@pytest.mark.parametrize("name", BABI_MODELS)
@pytest.mark.parametrize("supervised", [True, False])
def test_models_make_every_tensor_on_their_inputs_device(name, supervised, task2):
    splits, vocab = task2
    config, _ = sized(name, splits, vocab)
    if name == "lstm":  # the word reader packs its sequences by their lengths, which nn.LSTM takes on the host
        config = dataclasses.replace(config, reads="sentences")
    model = MODELS[name][1](config).to("meta")
    batch = {k: v.to("meta") for k, v in vectorize(splits["train"][:8], vocab, config.memory_size).tensors().items()}
    out = model(**model.inputs(batch, torch.tensor(False, device="meta"), supervised=supervised))
    loss, wrong = model.loss(out, batch)
    assert out.logits.device.type == loss.device.type == wrong.device.type == "meta"
    assert out.logits.shape == (8, len(vocab))


def test_pick_device():
    assert experiment.pick_device("cpu") == torch.device("cpu")
    assert experiment.pick_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device is available"):
            experiment.pick_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_asking_for_cuda_without_one_is_one_error_line(tmp_path, capsys):
    code, out, err = run_cli(["train", *FAST, "--device", "cuda", "--out", tmp_path / "r"], capsys)
    assert code != 0 and "no CUDA device is available" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_cpu_is_named_in_the_output(tmp_path, capsys):
    code, out, err = run_cli(["train", *FAST, "--device", "cpu", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    assert "on cpu, run directory" in out


@cuda
@pytest.mark.parametrize("name", BABI_MODELS)
def test_training_on_cuda_follows_the_cpu_run(name, task2):
    splits, vocab = task2
    config, train_cfg = sized(name, splits, vocab)
    train_cfg = TrainConfig(**{**train_cfg.__dict__, "epochs": 3, "ls_epochs": 2, "restarts": 2, "compile": False})
    data = {k: vectorize(v, vocab, config.memory_size) for k, v in splits.items()}
    runs = {device: train(name, config, data["train"], data["valid"], train_cfg, vocab, {}, progress=False,
                          device=device) for device in ("cpu", "cuda")}
    assert next(runs["cuda"].model.parameters()).device.type == "cuda"
    cpu_losses = [h["loss"] for h in runs["cpu"].history]
    cuda_losses = [h["loss"] for h in runs["cuda"].history]
    assert cuda_losses == pytest.approx(cpu_losses, rel=1e-3)  # same weights and batches; float sums differ


@cuda
def test_cli_trains_evaluates_and_asks_on_cuda(tmp_path, capsys):
    code, out, err = run_cli(["train", *FAST, "--device", "cuda", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    trained = json.loads((tmp_path / "r" / "results.json").read_text())["per_task"]["1"]
    code, out, err = run_cli(["eval", tmp_path / "r", "--device", "cuda"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "eval.json").read_text())["per_task"]["1"] == pytest.approx(trained)
    story = tmp_path / "story.txt"
    story.write_text("Mary went to the kitchen.\nWhere is Mary?\n")
    code, out, err = run_cli(["ask", tmp_path / "r" / "task01" / "checkpoint.safetensors", "--device", "cuda",
                              "--file", story], capsys)
    assert code == 0, err
