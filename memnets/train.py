"""The training loop: the protocol of Sukhbaatar et al. (2015) §4.2, with restarts trained side by side.

Protocol (paper §4.2, and the authors' released MemN2N-babi-matlab code where the paper is silent): SGD on the
cross-entropy summed over each batch of 32, the learning rate halved every 25 epochs of 100 (joint: 15 of 60), each
weight matrix's gradient clipped to norm 40, 10% of the training questions held out for validation. Linear start
(LS) trains without the attention softmax, at learning rate 0.005, until the validation loss stops falling (no new
best for 5 epochs; at most 20 epochs, the authors' fixed length), then re-inserts it and runs the full schedule
from 0.005. Random noise (RN) puts up to 10% empty slots
into the memories' time indices. N random restarts train together: their weights are stacked and the model runs
under ``torch.func.vmap``, so ten restarts cost little more than one; the one with the lowest validation error is
kept. Each restart draws its weights, shuffles and noise from a random stream of its own (``restart_seed``), so
the restarts can also be split into groups trained in parallel processes (``jobs``), one per CPU core, and each
restart still sees what it would see trained with all the others.
"""
from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import signal
import sys
import time as clock
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch.func import functional_call, vmap
from tqdm import tqdm

from memnets import checkpoint
from memnets.data.tensors import Batch, filled_rows, pad_rows
from memnets.data.vocab import Vocab
from memnets.models import MODELS

LAST, BEST = "last.safetensors", "checkpoint.safetensors"

# Compiling the step costs 10-35 s on 2 CPU cores and saves per restart and step (docs/results/speed.md): it made a
# 1k task with one restart slower (~3,400 steps) and ten restarts side by side faster, as it does the joint model
# (~50,000 steps) and the 10k tasks (~34,000). ``TrainConfig.compile = None`` compiles from this many restart-steps.
COMPILE_FROM_STEPS = 20_000
# Starting a process (Python, PyTorch, the data) costs 3-5 s, and two training processes on these 2 cores each ran
# 1.5-1.8x slower than one alone (docs/results/babi1k.md). Tasks train in parallel processes (``jobs``) from this
# many restart-steps in all (about break-even; bAbI 1k's 20 tasks x 10 restarts, 670,000, gained 1.46x) ...
PARALLEL_FROM_STEPS = 20_000
# ... and one run's restarts split between processes from this many: ten restarts of task 1 (33,600) were slower
# split than in one process (docs/results/split.md), the joint model's ten (506,000) took 15.4 minutes split against
# 21.5 in one process (docs/results/joint.md and its history).
SPLIT_FROM_STEPS = 200_000
# A compiled step is specialised to the shapes it meets (``dynamic=False``), and the width of a batch's filled rows
# (``rows``, memnets.data.tensors) varies: bAbI task 2's batches of ten restarts need 512, 640 or 768. Left to
# itself, PyTorch recompiled for dynamic shapes at the second width, about 20 s each time and twice in a run (task 2:
# 50 of its 77 s were compiling), and every graph costs 10-40 s with an empty cache; so the step is compiled only for
# the widths that at least this many of a run's steps need (estimated from a sample of batches), a narrower batch is
# padded up to one of them, and the few batches wider than all of them train in eager mode (the same arithmetic).
COMPILE_WIDTH_FROM = 1_000


OPTIMIZERS = ("sgd", "adam")
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")  # torch.optim.Adam's state of each tensor, checkpointed for resume


class Diverged(ValueError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100  # §4.2 (joint training: 60)
    lr: float = 0.01  # §4.2
    anneal_every: int = 25  # halve the learning rate every 25 epochs (joint: 15), §4.2
    batch_size: int = 32  # §4.2
    max_grad_norm: float = 40.0  # §4.2; per weight matrix, as in the authors' code
    linear_start: bool = True  # LS, §4.2
    ls_lr: float = 0.005  # learning rate of LS runs, §4.2
    ls_epochs: int = 20  # longest linear phase (authors' code: 20 per task, 30 joint)
    ls_patience: int = 5  # LS ends after this many epochs without a new best validation loss (a 1-epoch rule
    # reacts to noise in the 100 validation questions: on task 4 it gave 14% test error against 0.6% with 5);
    # at least ls_epochs: LS lasts all its epochs, as in the authors' code (the joint preset)
    random_noise: float = 0.1  # RN: fraction of empty memories added to the time indices, §4.1
    valid_fraction: float = 0.1  # held out of the training set for validation, §4.2
    restarts: int = 1  # independent initialisations trained together; the best by validation error is kept
    seed: int = 0
    compile: bool | None = None  # torch.compile the step; None: where it pays (COMPILE_FROM_STEPS); eager if it fails
    optimizer: str = "sgd"  # "sgd" (§4.2) or "adam" (Kingma & Ba 2015; DMN+ trained with it, Xiong et al. 2016
    # §4.1): elementwise, so each restart of the stack is optimised as if alone; lr is then Adam's step size
    weight_decay: float = 0.0  # L2 penalty: weight_decay * w is added to each gradient before clipping (DMN+ §4.1
    # used L2 with Adam); 0 in the papers' End-To-End protocol

    # fields added after runs were checkpointed, with the behaviour of those runs (``--resume`` of an older run)
    EARLIER: ClassVar[dict] = {"optimizer": "sgd", "weight_decay": 0.0}

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        for name in ("epochs", "anneal_every", "batch_size", "restarts", "ls_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.random_noise <= 1:
            raise ValueError(f"random_noise must be in [0, 1], got {self.random_noise}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        for name in ("lr", "ls_lr", "max_grad_norm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")


@dataclass
class TrainResult:
    model: torch.nn.Module  # the best restart, in eval mode
    best_restart: int
    valid_error: list[float]  # final validation error of each restart
    valid_loss: list[float] = field(default_factory=list)  # and its validation loss (the tie-breaker)
    history: list[dict] = field(default_factory=list)  # one entry per epoch
    train_seconds: float = 0.0
    steady_questions: int = 0  # training questions (all restarts) after this process's first epoch,
    steady_seconds: float = 0.0  # which includes compiling the step, and the seconds they took
    processes: int = 1  # processes the restarts were split between (``jobs``)

    @property
    def questions_per_second(self) -> float:
        return self.steady_questions / self.steady_seconds if self.steady_seconds else 0.0


def restart_steps(cfg: TrainConfig, questions: int) -> int:
    """Training steps times restarts of a run on ``questions`` training questions: the measure of its length."""
    return cfg.restarts * (questions // cfg.batch_size) * (cfg.epochs + (cfg.ls_epochs if cfg.linear_start else 0))


def restart_seed(seed: int, restart: int) -> int:
    """The seed of restart ``restart``'s weights and random draws: ``seed`` itself for the first restart (a run of
    one restart is the run it always was), a hash of both for the others (so the streams of two seeds never
    overlap), whichever group or process trains it."""
    if restart == 0:
        return seed
    return int(np.random.SeedSequence([seed, restart]).generate_state(1)[0])


def over_restarts(fn, in_dims: tuple, restarts: int, vmappable: bool = True):
    """``fn`` of one restart mapped over R stacked ones, as ``vmap(fn, in_dims)``: arguments with dim 0 hold the
    restarts (tensors, or dicts of them), those with None are shared, and every output gains a leading (R,). One
    restart is a plain call on its slices: vmap's batching costs a third of a small model's step (task 1). A model
    that vmap cannot batch (``vmappable`` False: nn.LSTM has no batching rule) runs its restarts one after another.
    Without vmap an argument may also be a list, one entry per restart (such as Python bools)."""
    if restarts > 1 and vmappable:
        return vmap(fn, in_dims=in_dims)

    def part(a, i):  # restart i's slice; of one restart, a view (its backward allocates nothing, unlike a[0]'s)
        return a.squeeze(0) if restarts == 1 and torch.is_tensor(a) else a[i]

    def each(*args):
        outs = [fn(*[a if d is None else {k: part(v, i) for k, v in a.items()} if isinstance(a, dict)
                     else part(a, i) for a, d in zip(args, in_dims)]) for i in range(restarts)]
        return tuple(torch.stack(parts) for parts in zip(*outs))
    return each


def can_vmap(model) -> bool:
    """Whether ``torch.func.vmap`` can batch the model's restarts (a model says otherwise with ``vmappable``)."""
    return getattr(model, "vmappable", True)


def restart_groups(restarts: int, jobs: int) -> list[range]:
    """Restarts 0..R-1 in at most ``jobs`` contiguous groups of near-equal size, for parallel processes."""
    count = max(1, min(jobs, restarts))
    return [range(i * restarts // count, (i + 1) * restarts // count) for i in range(count)]


def noisy_time(time: torch.Tensor, fraction: float, generator: torch.Generator | list[torch.Generator]
               ) -> torch.Tensor:
    """Random noise (§4.1): spread a story's L time indices over L + n slots, n ~ U{0..ceil(fraction * L)}.

    time (..., B, M) holds L..1 in the first L slots and 0 after; the result holds L distinct indices drawn from
    1..L+n, sorted descending, so the order of the memories is kept and empty slots open between them. Dims
    before (B, M) are batches, which draw one after another exactly as one call per batch would (the noise of a
    whole epoch is made in one call). Given a list of R generators, time is (R, ..., B, M) and row r draws from
    generator r alone: the draws of R calls, one per restart, computed in one.
    """
    single = not isinstance(generator, list)
    streams, stories = ([generator], time.unsqueeze(0)) if single else (generator, time)  # (R, ..., B, M)
    *lead, b, m = stories.shape[1:]
    length = (stories > 0).sum(-1, keepdim=True)  # (R, ..., B, 1) L
    span = m + math.ceil(m * fraction)  # the most slots any story can spread over
    # each stream, batch by batch: the batch's B draws of n, then its B x span keys (one call draws the same
    # numbers as a call per batch, and per kind of draw, would)
    draws = torch.stack([torch.rand(*lead, b * (1 + span), generator=g) for g in streams])  # (R, ..., B(1+span))
    uniform, keys = draws[..., :b, None], draws[..., b:].reshape(*draws.shape[:-1], b, span)  # (R, ..., B, 1|span)
    blanks = (uniform * (torch.ceil(length * fraction) + 1)).floor()  # (..., 1) n
    keys = keys.masked_fill(torch.arange(1, span + 1) > length + blanks, 2.0)  # (..., span) past L+n never drawn
    drawn = keys.argsort(-1)[..., :m] + 1  # (..., M) distinct random indices in 1..L+n first
    drawn = drawn.masked_fill(torch.arange(m) >= length, 0)  # (..., M) keep L of them
    drawn = drawn.sort(-1, descending=True).values
    return drawn[0] if single else drawn


def compiled_widths(data, cfg: TrainConfig, restarts: int, steps: int, sample: int = 256) -> tuple[int, ...]:
    """The widths of ``rows`` to compile the step for: those that ``COMPILE_WIDTH_FROM`` of a run's ``steps`` need,
    estimated from ``sample`` random batches of ``restarts`` x ``cfg.batch_size`` questions (drawn from a stream of
    their own, so the restarts' streams are untouched), or the commonest one; () for data without ``rows``."""
    time = getattr(data, "time", None)  # (N, M) of a Batch; knowledge-base batches have no rows
    if time is None:
        return ()
    generator = torch.Generator().manual_seed(cfg.seed)
    picked = torch.randint(len(data), (sample, restarts, cfg.batch_size), generator=generator)  # (S, R, B)
    counts = Counter(filled_rows(time[p]).shape[-1] for p in picked)
    chosen = sorted(w for w, c in counts.items() if c * steps >= COMPILE_WIDTH_FROM * sample)
    return tuple(chosen) or (counts.most_common(1)[0][0],)


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """The schedule: constant through the linear phase, then halved every ``anneal_every`` epochs."""
    if not cfg.linear_start:
        return cfg.lr * 0.5 ** (epoch // cfg.anneal_every)
    if epoch < cfg.ls_epochs:
        return cfg.ls_lr
    return cfg.ls_lr * 0.5 ** ((epoch - cfg.ls_epochs) // cfg.anneal_every)


def clip_factors(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """The scale that brings each weight matrix's gradient down to norm ``max_norm`` at most (1 where it is
    within): grads are (R, ...) stacked restarts, and a matrix is a restart's last two dims (a vector, such as
    nn.LSTM's biases, its last one; never dim 0)."""
    with torch.no_grad():
        return [(max_norm / (torch.linalg.vector_norm(g, dim=tuple(range(max(1, g.dim() - 2), g.dim())),
                                                      keepdim=True) + 1e-12)).clamp(max=1.0) for g in grads]


def clip(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """Each weight matrix's gradient scaled down to norm ``max_norm`` at most (see :func:`clip_factors`)."""
    return [g * f for g, f in zip(grads, clip_factors(grads, max_norm))]


def clip_and_step(params: list[torch.Tensor], grads: list[torch.Tensor], lr: float, max_norm: float,
                  optimizer: torch.optim.Optimizer | None = None, weight_decay: float = 0.0) -> None:
    """One step on the clipped gradients (plus ``weight_decay`` times the weights, the L2 penalty's gradient): plain
    SGD at ``lr``, or ``optimizer`` (Adam) with its rate set to ``lr``."""
    if weight_decay:
        grads = [g + weight_decay * p.detach() for p, g in zip(params, grads)]
    if optimizer is None:
        with torch.no_grad():
            for p, g, f in zip(params, grads, clip_factors(grads, max_norm)):
                p.addcmul_(g, f, value=-lr)  # p - lr * f * g
        return
    for p, g in zip(params, clip(grads, max_norm)):
        p.grad = g
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()


def make_optimizer(cfg: TrainConfig, params: dict[str, torch.Tensor]) -> torch.optim.Optimizer | None:
    """None for SGD (stepped by hand, no state); Adam over the stacked weights otherwise."""
    if cfg.optimizer == "sgd":
        return None
    return torch.optim.Adam(list(params.values()), lr=cfg.lr, foreach=True)


def optimizer_tensors(optimizer: torch.optim.Optimizer | None, params: dict[str, torch.Tensor]) -> dict:
    """Adam's state of every weight, as checkpoint tensors ``adam.<state>.<weight>`` ({} for SGD or before a step)."""
    if optimizer is None:
        return {}
    return {f"adam.{s}.{k}": optimizer.state[p][s].detach().cpu() for k, p in params.items()
            if p in optimizer.state for s in ADAM_STATE}


def restore_optimizer(optimizer: torch.optim.Optimizer | None, params: dict[str, torch.Tensor],
                      tensors: dict[str, torch.Tensor]) -> None:
    """Put the checkpointed Adam state back (the inverse of ``optimizer_tensors``)."""
    if optimizer is None:
        return
    for k, p in params.items():
        if f"adam.step.{k}" in tensors:
            optimizer.state[p] = {s: tensors[f"adam.{s}.{k}"].clone().to(p.device if s != "step" else "cpu")
                                  for s in ADAM_STATE}


def train(model_name: str, model_config, train_data: Batch, valid_data: Batch, cfg: TrainConfig,
          vocab: Vocab, data_settings: dict, run_dir: str | Path | None = None, resume: bool = False,
          progress: bool = True, device: str | torch.device = "cpu", jobs: int = 1,
          restarts: range | None = None) -> TrainResult:
    """Train ``cfg.restarts`` models side by side on ``device``; checkpoint every epoch into ``run_dir`` (if given).

    With ``resume``, training continues from ``run_dir/last.safetensors``, losing at most the epoch in progress.
    Weights are initialised and every random draw (shuffles, noise) is made on the CPU, so a run starts from the
    same weights and sees the same batches on any device; the batches then move to ``device``.

    ``jobs`` > 1 (on the CPU, for a run of at least ``SPLIT_FROM_STEPS``) splits the restarts into that many
    groups, each trained in a process of its own with this process's thread count, checkpointed in a subdirectory
    of ``run_dir`` (``restarts0-4``, ...); the best restart of all is kept. A resumed run keeps the grouping it was
    started with. ``restarts`` trains only those restarts of ``cfg.restarts`` (what each such process does).
    """
    run_dir = Path(run_dir) if run_dir else None
    if restarts is None:
        long_run = restart_steps(cfg, len(train_data)) >= SPLIT_FROM_STEPS
        groups = restart_groups(cfg.restarts, jobs if torch.device(device).type == "cpu" and long_run else 1)
        if resume:  # the run's own grouping; with none on disk, the one process that finds nothing to resume
            groups = recorded_groups(run_dir, cfg.restarts) or [range(cfg.restarts)]
        if len(groups) > 1:
            return _train_groups(groups, model_name, model_config, train_data, valid_data, cfg, vocab,
                                 data_settings, run_dir, resume, progress, device)
        restarts = groups[0]
    torch.set_flush_denormal(True)  # tiny gradients otherwise slow CPU arithmetic many times over
    try:
        return _train_loop(model_name, model_config, train_data, valid_data, cfg, vocab, data_settings, run_dir,
                           resume, progress, torch.device(device), restarts)
    finally:
        torch.set_flush_denormal(False)  # a process-wide setting: leave it as other code expects it


def group_dir(run_dir: Path, group: range) -> Path:
    """Where a group of restarts trained in a process of its own keeps its checkpoints."""
    return run_dir / f"restarts{group.start}-{group.stop - 1}"


def recorded_groups(run_dir: Path | None, restarts: int) -> list[range] | None:
    """The grouping an interrupted run in ``run_dir`` was started with: one group if it checkpointed there, the
    groups of its ``restarts*`` subdirectories if they cover every restart, else None."""
    if run_dir is None:
        return None
    if (run_dir / LAST).is_file():
        return [range(restarts)]
    groups = []
    for path in run_dir.glob("restarts*-*"):
        first, _, last = path.name.removeprefix("restarts").partition("-")
        if first.isdigit() and last.isdigit():
            groups.append(range(int(first), int(last) + 1))
    groups.sort(key=lambda g: g.start)
    covered = [i for g in groups for i in g]
    return groups if groups and covered == list(range(restarts)) else None


def resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an interrupted training to continue (in one process or in groups)."""
    return (run_dir / LAST).is_file() or any(run_dir.glob(f"restarts*-*/{LAST}"))


def _start_worker(threads: int) -> None:
    """A training process's set-up: its thread count, and (on Linux) its end when the process that started it
    ends, however that ends, so that no orphan goes on writing into a run directory that is no longer locked."""
    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent ended before the line above took effect
            os.kill(os.getpid(), signal.SIGTERM)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Processes that train at once, each with this process's thread count. Spawned: a forked PyTorch process can
    hang in its thread pool."""
    return ProcessPoolExecutor(workers, mp_context=torch.multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(torch.get_num_threads(),))


def _train_groups(groups, model_name, model_config, train_data, valid_data, cfg, vocab, data_settings, run_dir,
                  resume, progress, device) -> TrainResult:
    """Each group of restarts in a process of its own, at once; the best restart of all, saved in ``run_dir``.
    Only the first group shows a progress bar."""
    started = clock.perf_counter()
    for g in groups if run_dir else ():  # the grouping is on disk from the start, for --resume
        group_dir(run_dir, g).mkdir(parents=True, exist_ok=True)
    with process_pool(len(groups)) as pool:
        futures = [pool.submit(train, model_name, model_config, train_data, valid_data, cfg, vocab, data_settings,
                               group_dir(run_dir, g) if run_dir else None,
                               resume and run_dir is not None and (group_dir(run_dir, g) / LAST).is_file(),
                               progress and i == 0, device, 1, g)
                   for i, g in enumerate(groups)]
        wait(futures)  # every group runs to its end (and its checkpoint) even when another fails
    results = [f.result() for f in futures]  # the first group's error, if any, is raised here
    valid_error = [e for r in results for e in r.valid_error]
    valid_loss = [e for r in results for e in r.valid_loss]
    best = min(range(cfg.restarts), key=lambda i: (valid_error[i], valid_loss[i]))
    model = next(r.model for r, g in zip(results, groups) if best in g)
    if run_dir:
        _save_best(run_dir, model, model_name, model_config, vocab, data_settings, cfg, best, valid_error[best])
    history = []
    for entries in zip(*(r.history for r in results)):  # one entry per epoch: every restart's figures in order
        merged = {k: [x for e in entries for x in e[k]] for k in ("train_error", "valid_error", "valid_loss",
                                                                   "linear")}
        loss = sum(e["loss"] * len(g) for e, g in zip(entries, groups)) / cfg.restarts
        history.append({**entries[0], **merged, "loss": loss, "seconds": max(e["seconds"] for e in entries)})
    return TrainResult(model, best, valid_error, valid_loss, history, clock.perf_counter() - started,
                       sum(r.steady_questions for r in results), max(r.steady_seconds for r in results),
                       len(groups))


def _save_best(run_dir: Path, model, model_name, model_config, vocab, data_settings, cfg, best, valid_error):
    checkpoint.save(run_dir / BEST, model.state_dict(),
                    checkpoint.model_meta(model_name, model_config, vocab, data=data_settings,
                                          train=dataclasses.asdict(cfg), best_restart=best, valid_error=valid_error))


def _train_loop(model_name, model_config, train_data, valid_data, cfg, vocab, data_settings, run_dir, resume,
                progress, device, restarts: range) -> TrainResult:
    config_cls, model_cls = MODELS[model_name]
    run_dir = Path(run_dir) if run_dir else None
    r, n, b = len(restarts), len(train_data), cfg.batch_size
    if n < b:
        raise ValueError(f"{n} training questions is fewer than one batch of {b}")
    total_epochs = cfg.epochs + (cfg.ls_epochs if cfg.linear_start else 0)

    models, generators = [], []  # each restart: its weights and its stream of shuffles and noise
    for seed in (restart_seed(cfg.seed, i) for i in restarts):
        torch.manual_seed(seed)
        models.append(model_cls(model_config))
        generators.append(torch.Generator().manual_seed(seed))
    params = {k: torch.stack([dict(m.named_parameters())[k].detach() for m in models]).requires_grad_()
              for k, _ in models[0].named_parameters()}  # each (R, ...)
    state = {"epoch": 0, "linear": [cfg.linear_start] * r, "ls_best": [math.inf] * r, "ls_wait": [0] * r,
             "history": []}
    settings = {"model_name": model_name, "model_config": dataclasses.asdict(model_config),
                "train_config": dataclasses.asdict(cfg), "data": data_settings}
    # a group of the restarts (``jobs``) resumes only as the same group; all of them (None) only as all
    settings["restarts"] = [restarts.start, restarts.stop] if r < cfg.restarts else None
    saved = {}
    if resume:
        state, saved = _restore(run_dir, params, settings, generators)
    params = {k: v.detach().to(device).requires_grad_() for k, v in params.items()}
    optimizer = make_optimizer(cfg, params)
    restore_optimizer(optimizer, params, saved)
    skeleton = models[0].to("meta")  # structure only: functional_call supplies the weights

    def batch_loss(p, batch, linear):  # one restart: the model's own inputs and loss (memnets.models.Trainable)
        out = functional_call(skeleton, p, (), skeleton.inputs(batch, linear, supervised=True))
        return skeleton.loss(out, batch)

    vmapped = r > 1 and can_vmap(skeleton)

    def step_loss(p, batch, linear):
        loss, errors = over_restarts(batch_loss, (0, 0, 0), r, can_vmap(skeleton))(p, batch, linear)  # (R,), (R,)
        return loss.sum(), errors

    compiled = cfg.compile if cfg.compile is not None else r * (n // b) * total_epochs >= COMPILE_FROM_STEPS
    if compiled:
        torch._dynamo.reset()  # a fresh cache per run: runs of other shapes must not use up the recompile limit
    compiled_step = torch.compile(step_loss, dynamic=False) if compiled else None
    widths = compiled_widths(train_data, cfg, r, (n // b) * total_epochs) if compiled else ()
    tensors = list(params.values())
    first_epoch, steady_questions, steady_seconds, started = state["epoch"], 0, 0.0, clock.perf_counter()
    bar = tqdm(range(state["epoch"], total_epochs), desc="train", unit="epoch", disable=not progress,
               initial=state["epoch"], total=total_epochs, mininterval=1.0)
    for epoch in bar:
        epoch_start = clock.perf_counter()
        lr = learning_rate(cfg, epoch)
        in_linear_phase = cfg.linear_start and epoch < cfg.ls_epochs
        linear = (torch.tensor(state["linear"]) & in_linear_phase).to(device)  # (R,) softmax removed for these
        order = torch.stack([torch.rand(n, generator=g).argsort() for g in generators])  # (R, N) own shuffles
        loss_sum, error_sum, batches = 0.0, torch.zeros(r, device=device), n // b
        if cfg.random_noise:  # the epoch's noise in one call: (R, batches, B, M)
            noise = noisy_time(train_data.time[order[:, :batches * b]].unflatten(1, (batches, b)), cfg.random_noise,
                               generators)
        for i, start in enumerate(range(0, batches * b, b)):  # whole batches only, as the authors' code
            batch = train_data.tensors(order[:, start:start + b])  # each (R, B, ...)
            if cfg.random_noise:
                batch["time"] = noise[:, i]
            if widths:  # compiled for these widths of rows: pad up to one, or step eagerly if wider than all
                batch["rows"] = pad_rows(batch["rows"], b * batch["time"].shape[-1], widths)
            batch = {k: v.to(device) for k, v in batch.items()}
            step = compiled_step if compiled_step and (not widths or batch["rows"].shape[-1] in widths) else step_loss
            try:  # eager and without vmap, the flags as Python bools: the model branches instead of computing both
                loss, errors = step(params, batch, linear if vmapped or step is not step_loss else linear.tolist())
            except Exception as err:  # noqa: BLE001 - any compiler failure falls back to eager mode
                if step is step_loss:
                    raise
                warnings.warn(f"torch.compile failed ({type(err).__name__}: {err}); training in eager mode")
                compiled_step = None
                loss, errors = step_loss(params, batch, linear)
            grads = torch.autograd.grad(loss, tensors)
            clip_and_step(tensors, grads, lr, cfg.max_grad_norm, optimizer, cfg.weight_decay)
            loss_sum += loss.item()
            error_sum += errors
        if not math.isfinite(loss_sum):  # stop before this epoch's weights overwrite the last good checkpoint
            raise Diverged(f"training diverged in epoch {epoch + 1} (loss {loss_sum}); "
                           + (f"{run_dir / LAST} keeps the state after epoch {epoch}; " if run_dir and epoch else "")
                           + "try a smaller learning rate")
        valid_loss, valid_error = evaluate_restarts(skeleton, params, valid_data, linear, device)
        if in_linear_phase:  # LS ends, restart by restart, once the validation loss stops falling
            for i in range(r):
                if valid_loss[i] < state["ls_best"][i]:
                    state["ls_best"][i], state["ls_wait"][i] = valid_loss[i], 0
                else:
                    state["ls_wait"][i] += 1
                    state["linear"][i] = state["linear"][i] and state["ls_wait"][i] < cfg.ls_patience
        seconds = clock.perf_counter() - epoch_start
        if epoch > first_epoch:  # the first epoch of a process includes compiling the step
            steady_questions += r * batches * b
            steady_seconds += seconds
        train_error = (error_sum / (batches * b) * 100).tolist()
        state["history"].append({"epoch": epoch, "lr": lr, "loss": loss_sum / (r * batches * b),
                                 "train_error": train_error, "valid_error": valid_error, "valid_loss": valid_loss,
                                 "linear": linear.tolist(), "seconds": seconds})
        state["epoch"] = epoch + 1
        best = min(range(r), key=lambda i: (valid_error[i], valid_loss[i]))
        bar.set_postfix(loss=f"{loss_sum / (r * batches * b):.3f}", train_err=f"{train_error[best]:.1f}%",
                        valid_err=f"{valid_error[best]:.1f}%", lr=lr, linear=int(linear.sum()), refresh=False)
        if run_dir:
            checkpoint.save(run_dir / LAST, {**{f"param.{k}": v for k, v in params.items()},
                                             **optimizer_tensors(optimizer, params),
                                             "rng": torch.stack([g.get_state() for g in generators])},
                            {**settings, "state": state})
    bar.close()

    final_linear = torch.zeros(r, dtype=torch.bool, device=device)
    valid_loss, valid_error = evaluate_restarts(skeleton, params, valid_data, final_linear, device)
    best = min(range(r), key=lambda i: (valid_error[i], valid_loss[i]))
    model = model_cls(model_config)
    model.load_state_dict({k: v[best].detach() for k, v in params.items()})
    model.to(device).eval()
    if run_dir:
        _save_best(run_dir, model, model_name, model_config, vocab, data_settings, cfg, restarts[best],
                   valid_error[best])
    return TrainResult(model, restarts[best], valid_error, valid_loss, state["history"],
                       clock.perf_counter() - started, steady_questions, steady_seconds)


@torch.no_grad()
def evaluate_restarts(skeleton, params: dict, data: Batch, linear: torch.Tensor, device: torch.device,
                      chunk: int = 512) -> tuple[list[float], list[float]]:
    """Mean loss and error (%) of every restart on ``data``: two lists of length R.

    The loss is the training loss; the error is that of answering as at test time, which for a strongly supervised
    model means without the supporting facts (a second forward pass).
    """
    r = linear.shape[0]
    loss, errors = torch.zeros(r, device=device), torch.zeros(r, device=device)

    def run(p, batch, lin):
        out = functional_call(skeleton, p, (), skeleton.inputs(batch, lin, supervised=True))
        part_loss, wrong = skeleton.loss(out, batch)
        if skeleton.strongly_supervised:
            answered = functional_call(skeleton, p, (), skeleton.inputs(batch, lin, supervised=False))
            wrong = (answered.logits.argmax(-1) != batch["answer"]).sum()
        return part_loss, wrong

    for start in range(0, len(data), chunk):
        part = data.tensors(torch.arange(start, min(start + chunk, len(data))), device)
        part_loss, wrong = over_restarts(run, (0, None, 0), r, can_vmap(skeleton))(params, part, linear)  # (R,), (R,)
        loss += part_loss
        errors += wrong
    return (loss / len(data)).tolist(), (errors / len(data) * 100).tolist()


def _restore(run_dir: Path | None, params: dict, settings: dict, generators: list[torch.Generator]
             ) -> tuple[dict, dict]:
    """Load the stacked weights, loop state and random streams of an interrupted run (for ``resume``): returns
    the loop state and the checkpoint's tensors (the optimizer's state among them)."""
    if run_dir is None or not (run_dir / LAST).is_file():
        raise checkpoint.CheckpointError(f"nothing to resume: no {LAST} in {run_dir}")
    tensors, meta = checkpoint.load(run_dir / LAST)
    checkpoint.require_same_run(run_dir / LAST, {k: meta.get(k) for k in settings}, settings,
                                {"model_config": MODELS[settings["model_name"]][0], "train_config": TrainConfig})
    rng = tensors["rng"]
    if rng.dim() == 1:  # written before each restart had a stream of its own: one stream, exact for one restart
        if len(generators) > 1:
            raise checkpoint.CheckpointError(
                f"{run_dir / LAST} was written by an earlier memnets, whose restarts shared one random stream; "
                f"it cannot be continued exactly: start the run again (--overwrite)")
        rng = rng.unsqueeze(0)
    with torch.no_grad():
        for k, v in params.items():
            v.copy_(tensors[f"param.{k}"])
    for g, state in zip(generators, rng):
        g.set_state(state.clone())  # a tensor of its own: given a row of the stack, set_state failed or crashed
    return meta["state"], tensors
