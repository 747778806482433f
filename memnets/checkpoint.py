"""Checkpoints: one safetensors file holding the weights and, as JSON metadata, everything needed to rebuild the
model (its name and config), read its inputs (the vocabulary and data settings) and report on it.

Every consumer (``eval``, ``ask``, the attention plots) rebuilds a model through :func:`load_model`, which checks
the file against the model's config first: a file that does not match gets one CheckpointError line naming it and
the first thing that differs, never a traceback from deep inside the model or PyTorch. Files are
written atomically: to a temporary file in the same folder, then renamed over the old one, so a killed process
leaves either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import typing
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
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp,
                  metadata={"memnets": json.dumps(meta)})
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
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({_one_line(err)})") from None
    if "memnets" not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not a memnets checkpoint (no 'memnets' metadata)")
    try:
        decoded = json.loads(meta["memnets"])
    except (ValueError, RecursionError) as err:  # ValueError: bad JSON, or an integer too long to convert
        raise CheckpointError(f"{path}: its 'memnets' metadata is not valid JSON ({_one_line(err)})") from None
    if not isinstance(decoded, dict):
        raise CheckpointError(f"{path}: its 'memnets' metadata is a JSON {type(decoded).__name__}, "
                              f"expected an object of settings")
    return tensors, decoded


def _one_line(err: BaseException) -> str:
    # Library messages can span lines or be empty; an error here is one line that names the file.
    text = " ".join(str(err).split())
    return text[:200] if text else type(err).__name__


def require_same(path: Path, recorded: dict, current: dict, prefix: str = "") -> None:
    """Refuse to continue a run whose settings differ, naming the first setting that does."""
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            require_same(path, old, new, f"{prefix}{key}.")
        elif old != new:
            raise CheckpointError(f"{path} was written with {prefix}{key} = {old!r}, but this run has {new!r}; "
                                  f"resume with the same options, or start a new run directory")


def with_earlier_fields(config_cls, values: dict) -> dict:
    """A recorded config with the fields it predates filled in as it was trained: ``config_cls.EARLIER`` maps a
    field added later to the behaviour before it (which may differ from today's default)."""
    return {**getattr(config_cls, "EARLIER", {}), **values}


def require_same_run(path: Path, recorded: dict, current: dict, configs: dict) -> None:
    """``require_same`` for a run's recorded settings, whose configs (``configs`` maps a settings key to its config
    class, such as the model's and ``TrainConfig``) are first given the fields they predate, as they were trained
    (``with_earlier_fields``)."""
    recorded = {**recorded, **{key: with_earlier_fields(cls, recorded.get(key) or {}) for key, cls in configs.items()}}
    require_same(path, recorded, current)


def model_meta(name: str, config, vocab: Vocab, **extra) -> dict:
    """The metadata of a model checkpoint: model name, its config, the vocabulary and any data/training settings."""
    return {"model": name, "config": dataclasses.asdict(config), "vocab": vocab.words, **extra}


def load_model(path: str | Path):
    """Rebuild a model from its checkpoint: returns (model in eval mode, vocab, metadata).

    Everything is checked against the model's config: the config's fields and their types, the vocabulary, and
    every tensor's name and shape. The model is built under a budget of a few times the numbers the file holds,
    so that a config asking for a huge model is refused before it is allocated; its expected shapes then come
    from the model built on the meta device, which costs no memory (but seconds: PyTorch's meta kernels import
    its compiler stack, so a file that fits does not take that path).
    """
    tensors, meta = load(path)
    if "state" in meta:
        raise CheckpointError(f"{path} holds the state of a training run, for --resume; "
                              f"the trained model is {Path(path).with_name('checkpoint.safetensors')}")
    name = meta.get("model")
    if not isinstance(name, str) or name not in MODELS:
        raise CheckpointError(f"{path}: unknown model {_short(name)}; known: {', '.join(MODELS)}")
    config_cls, model_cls = MODELS[name]
    config = _config(path, config_cls, meta)
    vocab = _vocab(path, meta, config)
    held = sum(t.numel() for t in tensors.values())
    oversized = False
    try:
        try:
            with _Budget(4 * held + 2 ** 22):  # parameters, their temporaries, 16 MB for buffers and small models
                model = model_cls(config)
        except _OverBudget:
            oversized = True
            with torch.device("meta"):
                model = model_cls(config)
    except (ValueError, TypeError, RuntimeError, OverflowError) as err:
        raise CheckpointError(f"{path}: the config does not build a {name} model ({_one_line(err)})") from None
    _check_tensors(path, tensors, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    if oversized:  # the shapes match, but building the model would make far more than its weights
        raise CheckpointError(f"{path}: the config builds a model of far more numbers than the {held:,} the file "
                              f"holds")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:  # names and shapes match, so only a tensor whose values cannot be copied in
        raise CheckpointError(f"{path}: its tensors do not load into the model ({_one_line(err)})") from None
    return model.eval(), vocab, meta


class _OverBudget(Exception):
    pass


class _Budget(torch.overrides.TorchFunctionMode):
    """Refuses, before it is made, a new tensor that takes the numbers made so far past ``left``."""

    FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.randn, torch.rand, torch.full}

    def __init__(self, left: int):
        super().__init__()
        self.left = left

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.eye:  # eye(n, m=n)
            n = args[0] if args else kwargs["n"]
            shape = (n, args[1] if len(args) > 1 and isinstance(args[1], int) else kwargs.get("m", n))
        elif func in self.FACTORIES:  # a size as one sequence (full's first argument) or as integers
            sequence = bool(args) and isinstance(args[0], (tuple, list, torch.Size))
            shape = args[0] if sequence else args if args else kwargs.get("size", ())
        else:
            return func(*args, **kwargs)
        self.left -= math.prod(int(n) for n in shape)
        if self.left < 0:
            raise _OverBudget
        return func(*args, **kwargs)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _config(path: Path, config_cls, meta: dict):
    """The model's config from the metadata, with each field's presence and type checked first."""
    if "config" not in meta:
        raise CheckpointError(f"{path}: metadata has no 'config'; expected the {config_cls.__name__} fields")
    values = meta["config"]
    if not isinstance(values, dict):
        raise CheckpointError(f"{path}: 'config' is a JSON {type(values).__name__}, expected an object of "
                              f"{config_cls.__name__} fields")
    values = with_earlier_fields(config_cls, values)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise CheckpointError(f"{path}: config field {_short(unknown[0])} is not one of {config_cls.__name__}'s "
                              f"({', '.join(fields)})")
    no_default = dataclasses.MISSING
    missing = [n for n, f in fields.items()
               if n not in values and f.default is no_default and f.default_factory is no_default]
    if missing:
        raise CheckpointError(f"{path}: config has no {missing[0]!r}, which {config_cls.__name__} requires")
    try:
        hints = typing.get_type_hints(config_cls)
    except (NameError, TypeError):  # an annotation that names something only a type checker sees
        hints = {}
    for key, value in values.items():
        kind = hints.get(key)
        if kind in _JSON_TYPES and not _is_a(value, kind):  # fields of other types are left to the config
            raise CheckpointError(f"{path}: config field {key!r} is {_short(value)}, expected type {kind.__name__}")
    try:
        return config_cls(**values)
    except (ValueError, TypeError) as err:  # the config's own checks (__post_init__)
        raise CheckpointError(f"{path}: the config is not a valid {config_cls.__name__}: {_one_line(err)}") from None


# The JSON values each simple field type accepts: JSON has one number type, so a float field takes 1 as well.
_JSON_TYPES = {int: int, float: (int, float), bool: bool, str: str}


def _is_a(value, kind: type) -> bool:
    if isinstance(value, bool) and kind is not bool:  # bool is a subclass of int, but true is not a size
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _vocab(path: Path, meta: dict, config) -> Vocab:
    words = meta.get("vocab")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise CheckpointError(f"{path}: metadata has no 'vocab' list of words (got {_short(words)})")
    try:
        vocab = Vocab(words)
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    size = getattr(config, "vocab_size", len(vocab))
    if size != len(vocab):  # ids past either end would fail only later, inside the model or the answer lookup
        raise CheckpointError(f"{path}: the vocabulary has {len(vocab)} words, the config's vocab_size is {size}")
    return vocab


def _check_tensors(path: Path, tensors: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]]) -> None:
    for key, shape in expected.items():
        if key not in tensors:
            raise CheckpointError(f"{path}: tensor {key} is missing; the config expects one of shape {shape}")
        if tuple(tensors[key].shape) != shape:
            raise CheckpointError(f"{path}: tensor {key} has shape {tuple(tensors[key].shape)}, "
                                  f"the config expects {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise CheckpointError(f"{path}: tensor {_short(extra[0])} is not part of the model; it has "
                              f"{', '.join(expected)}")
