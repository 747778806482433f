"""Checkpoints: one safetensors file holding the weights and, as JSON metadata, everything needed to rebuild the
model (its name and config), read its inputs (the vocabulary and data settings) and report on it.

Every consumer (``eval``, ``ask``, the attention plots) rebuilds a model through :func:`load_model`. Files are
written atomically: to a temporary file in the same folder, then renamed over the old one, so a killed process
leaves either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file

from memnets.data.vocab import Vocab
from memnets.models import MODELS


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not a memnets checkpoint."""


def save(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write tensors and JSON-able metadata to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, tmp, metadata={"memnets": json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a checkpoint written by :func:`save`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:  # one read: metadata and tensors
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({err})") from None
    if "memnets" not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not a memnets checkpoint (no 'memnets' metadata)")
    return tensors, json.loads(meta["memnets"])


def require_same(path: Path, recorded: dict, current: dict, prefix: str = "") -> None:
    """Refuse to continue a run whose settings differ, naming the first setting that does."""
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            require_same(path, old, new, f"{prefix}{key}.")
        elif old != new:
            raise CheckpointError(f"{path} was written with {prefix}{key} = {old!r}, but this run has {new!r}; "
                                  f"resume with the same options, or start a new run directory")


def model_meta(name: str, config, vocab: Vocab, **extra) -> dict:
    """The metadata of a model checkpoint: model name, its config, the vocabulary and any data/training settings."""
    return {"model": name, "config": dataclasses.asdict(config), "vocab": vocab.words, **extra}


def load_model(path: str | Path):
    """Rebuild a model from its checkpoint: returns (model in eval mode, vocab, metadata)."""
    tensors, meta = load(path)
    if "state" in meta:
        raise CheckpointError(f"{path} holds the state of a training run, for --resume; "
                              f"the trained model is {Path(path).with_name('checkpoint.safetensors')}")
    if meta.get("model") not in MODELS:
        raise CheckpointError(f"{path}: unknown model {meta.get('model')!r}; known: {', '.join(MODELS)}")
    config_cls, model_cls = MODELS[meta["model"]]
    model = model_cls(config_cls(**meta["config"]))
    model.load_state_dict(tensors)
    return model.eval(), Vocab(meta["vocab"]), meta
