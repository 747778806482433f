"""One experiment for every model: data -> vocabulary -> tensors -> train -> test -> results.

``memnets train`` is this module's :func:`run`; ``eval`` is :func:`evaluate_checkpoints`, and ``ask`` and the
examples at the end of a run go through :func:`answer`. Nothing here depends on which model is trained: a model is
named, its config built from a preset (the paper's settings, plain functions below) and the options given, sized to
the data, and trained by the one loop in ``memnets.train``.
"""
from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from pathlib import Path
from typing import NamedTuple

import torch

from memnets import checkpoint, evaluate
from memnets.data import download, kb
from memnets.data.babi import DataError, QARecord, load_splits, tokenize
from memnets.data.generator import MARKER, write_tasks
from memnets.data.tensors import vectorize
from memnets.data.vocab import Vocab
from memnets.models import MODELS
from memnets.train import PARALLEL_FROM_STEPS, TrainConfig, process_pool, restart_steps, resumable, train

RUN_FILE = "run.json"  # written as a run starts: what it trains, so that --resume can check it is the same run
LOCK_FILE = ".lock"  # held (flock) for a run's life; the kernel releases it when the process dies


def pick_device(name: str) -> torch.device:
    """The device ``--device`` names: "cpu", "cuda" (an error if there is none) or "auto" (CUDA when present)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available to this PyTorch "
                         f"({torch.__version__}{'' if torch.version.cuda else ', a CPU-only build'}); "
                         "use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: expected cpu, cuda or auto")
    return torch.device(name)


class RunDirError(ValueError):
    """A run directory that is in use, holds another run, or holds nothing to resume."""

# ---------------------------------------------------------------------------------------------------- presets


def memn2n_babi_1k() -> tuple[dict, TrainConfig]:
    """Sukhbaatar et al. (2015) §4.2, one model per task: d = 20, 100 epochs, lr halved every 25; LS, RN."""
    return {}, TrainConfig()


def memn2n_babi_joint() -> tuple[dict, TrainConfig]:
    """Sukhbaatar et al. (2015) §4.2, one model for all tasks: d = 50, 60 epochs, lr halved every 15; and the
    authors' code's linear start for the joint model (MemN2N-babi-matlab): 30 whole epochs, not ended early when
    the validation loss stalls. Measured on 1k: with the early end, task 16 was learned by 0 of 4 restarts
    (docs/results/joint-ls.md); with the whole 30 epochs, by 1 of those 4 and 4 of the joint benchmark's 10
    (docs/results/joint-restarts.md), and the best of 10 gave 12.2% mean error (the paper 12.4%)."""
    return {"embed_dim": 50}, TrainConfig(epochs=60, anneal_every=15, ls_epochs=30, ls_patience=30)


def memnn_babi() -> tuple[dict, TrainConfig]:
    """MemNN AM+NG+NL, strongly supervised (Weston et al. 2015 §5): SGD on the margin ranking loss. The papers do
    not print the schedule; 20 epochs with the rate halved every 5 is ours (enough for the training loss to level
    off on the 1k tasks). No linear start or random noise: those belong to the End-To-End model."""
    return {}, TrainConfig(epochs=20, lr=0.01, anneal_every=5, linear_start=False, random_noise=0.0)


def memnn_babi_joint() -> tuple[dict, TrainConfig]:
    """MemNN for all tasks in one model: the per-task settings with a larger embedding, as for the End-To-End one."""
    return {"embed_dim": 100}, memnn_babi()[1]


def kvmemnn_metaqa() -> tuple[dict, TrainConfig]:
    """KV-MemNN in the KB setting (Miller et al. 2016 §5.1: key hashing by entity, H = 2), trained on MetaQA's dev
    questions alone (about a tenth of the training questions the published figures had). Ours, for that setting:
    B tied to A, the candidates restricted to the entities of the question's memories, and the entities' rows of A
    kept at their random start. Most test answers never occur in training, so any embedding learned for them
    stays random while the others move: learned, the model fit the training questions in a few epochs and its
    validation error rose from 10.3% after epoch 1 to 13.5% after epoch 9 on 1-hop; frozen, reading a value copies
    its code into the query, and the error still fell at epoch 4 (8.4%). d = 64 and SGD at 0.02, halved every 5 of
    15 epochs, train in minutes on one core."""
    return ({"embed_dim": 64, "tie_answer": True, "candidates": "memory", "freeze_entities": True},
            TrainConfig(epochs=15, lr=0.02, anneal_every=5, linear_start=False, random_noise=0.0))


def hmn_babi() -> tuple[dict, TrainConfig]:
    """HMNet (issue #11): End-To-End's adjacent tying (HMNetConfig's default) and linear start, so SGD runs at the
    linear phase's 0.005 (Sukhbaatar et al. §4.2), then 60 epochs with the rate halved every 20; schedule ours.
    Measured on bAbI 1k, best of 4 restarts: 14.9% mean error (docs/results/hmn-babi1k-adjacent.md), against 18.7%
    for the earlier shared embedding without linear start at 100 epochs; without both, task 16 was never learned
    (docs/results/hmn-task16.md). Eager: compiling its unrolled recurrence took 177-214 s per task on 2 cores, more
    than any 1k run saves. With region attention (from 100 rows) linear start is off and SGD runs at 0.01 (see
    ``configs``), and one word embedding is shared (HMNetConfig's default there)."""
    return {}, TrainConfig(epochs=60, anneal_every=20, linear_start=True, random_noise=0.1, compile=False)


def baseline_babi() -> tuple[dict, TrainConfig]:
    """The LSTM and Transformer baselines of issue #11: the schedule their benchmark measured (HMNet's preset of
    the time: SGD at 0.01, 100 epochs, halved every 25), without random noise (a memory network's regulariser,
    End-To-End §4.1) and without linear start (they have no softmax over memories to remove)."""
    return {}, TrainConfig(epochs=100, lr=0.01, anneal_every=25, linear_start=False, random_noise=0.0, compile=False)


PRESETS: dict[str, dict[bool, Callable[[], tuple[dict, TrainConfig]]]] = {
    "memn2n": {False: memn2n_babi_1k, True: memn2n_babi_joint},
    "memnn": {False: memnn_babi, True: memnn_babi_joint},
    "hmn": {False: hmn_babi, True: hmn_babi},
    "lstm": {False: baseline_babi, True: baseline_babi},
    "transformer": {False: baseline_babi, True: baseline_babi},
    "kvmemnn": {False: kvmemnn_metaqa, True: kvmemnn_metaqa},
}


def configs(model: str, joint: bool, model_options: dict, train_options: dict, vocab_size: int = 1):
    """The model config (before it is sized to the data) and training config: the preset, then the options given.

    Options are config fields by name; one that the model's config does not have is refused, naming the model.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    config_cls = MODELS[model][0]
    names = {f.name for f in dataclasses.fields(config_cls)}
    foreign = sorted(set(model_options) - names)
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise ValueError(f"{flags}: not an option of --model {model}")
    preset_model, preset_train = PRESETS[model][joint]()
    sized_later = {"sentence_size": 1} if "sentence_size" in names else {}  # a placeholder: fit_to_data sets it
    model_cfg = config_cls(**{"vocab_size": vocab_size, **sized_later, **preset_model, **model_options})
    train_cfg = dataclasses.replace(preset_train, **train_options)
    if model == "hmn" and model_cfg.regions and "linear_start" not in train_options:
        # HMNet with region attention (long memories) trains without linear start (and with one shared embedding,
        # HMNetConfig's default there): with it, generated task 1 with 200 statements stayed at chance (83.8% test
        # error) and without it reached 11.4% (README, "Where the design changed in measurement")
        train_cfg = dataclasses.replace(train_cfg, linear_start=False)
    if "lr" in train_options and train_cfg.linear_start:  # an option must do what it says, or be refused
        raise ValueError(f"--lr {train_options['lr']} would not be used: with linear start (the default) the whole "
                         f"schedule runs from --ls-lr ({train_cfg.ls_lr}, Sukhbaatar et al. §4.2); "
                         f"pass --ls-lr, or --no-linear-start with --lr")
    if train_cfg.linear_start and MODELS[model][1].strongly_supervised:
        raise ValueError(f"--model {model} has no linear-start phase (it is trained with the supporting facts)")
    return model_cfg, train_cfg


def fit_to_data(config, records: list[QARecord]):
    """Size a config to its training data: the vocabulary, as many memory slots as the longest story needs (at
    most the configured number, the authors' config.sz), the sentence length that the released position encoding
    uses, and, for an adaptive MemNN, as many lookups as the most supporting facts of any question."""
    names = {f.name for f in dataclasses.fields(config)}
    sized = {"memory_size": min(config.memory_size, max(len(r.story) for r in records))}
    if "sentence_size" in names:  # + 1 for the time word of the authors' code
        words = max(len(tokenize(s)) for r in records for s in (*r.story, r.question))
        sized["sentence_size"] = words + config.temporal
    if getattr(config, "adaptive", False):
        sized["lookups"] = max(1, max(len(r.supports) for r in records))
    return dataclasses.replace(config, **sized)


def require_supporting_facts(model: str, records: list[QARecord]) -> None:
    """A strongly supervised model trains on the supporting facts: refuse data without them, pointing elsewhere."""
    if not MODELS[model][1].strongly_supervised:
        return
    missing = [r for r in records if not r.supports]
    if missing:
        r = missing[0]
        raise DataError(f"task {r.task}: {len(missing)} training question(s) have no supporting facts (first: "
                        f"{r.question!r}); --model {model} is trained with them (strong supervision); "
                        f"train --model memn2n instead, which needs only the answers")


# ------------------------------------------------------------------------------------------------------- data


def data_settings(data: str | None, data_dir: str | None, variant: str, questions: int, data_seed: int) -> dict:
    """Where the questions come from: recorded in every checkpoint so that ``eval`` can read the same data."""
    if data == "babi" or (data is None and (data_dir or os.environ.get("MEMNETS_DATA"))):
        root = download.resolve_data_dir(data_dir)
        if root is None:
            raise DataError("no bAbI data found: pass --data-dir DIR, set MEMNETS_DATA, "
                            "or run 'memnets data download babi'")
        settings = {"source": "babi", "data_dir": str(Path(root).resolve()), "variant": variant,
                    "release": download.release_files(root, variant)}
        for folder in (Path(root), Path(root) / variant):
            if (folder / MARKER).is_file():  # a folder written by `memnets generate`, not the release
                settings["generated"] = json.loads((folder / MARKER).read_text())
        return settings
    return {"source": "generated", "questions": questions, "data_seed": data_seed, "variant": "en"}


KB_SOURCES = ("kb", "generated-kb")  # knowledge-base questions (memnets.data.kb), read by --model kvmemnn


def kb_data_settings(data_dir: str | None, questions: int, data_seed: int, knobs: dict) -> dict:
    """Where knowledge-base questions come from: MetaQA/WikiMovies files in ``data_dir`` (or $MEMNETS_METAQA_DIR),
    else a small generated movie knowledge base; ``knobs`` are ``memnets.data.kb.DEFAULTS`` given explicitly."""
    unknown = sorted(set(knobs) - set(kb.DEFAULTS))
    if unknown:
        raise ValueError(f"unknown knowledge-base setting(s) {', '.join(unknown)}; expected {', '.join(kb.DEFAULTS)}")
    root = data_dir or os.environ.get("MEMNETS_METAQA_DIR")
    if root:
        if not Path(root).is_dir():
            raise DataError(f"knowledge-base data not found: {root} is not a directory")
        return {"source": "kb", "data_dir": str(Path(root).resolve()), **kb.DEFAULTS, **knobs}
    return {"source": "generated-kb", "movies": 120, "questions": min(questions, 1000), "data_seed": data_seed,
            **kb.DEFAULTS, **knobs}


def read_data(settings: dict, tasks: list[int], valid_fraction: float) -> dict:
    """Train/valid/test records of ``tasks`` from the source that ``settings`` describes (knowledge-base sources:
    a ``memnets.data.kb.KBData``, indexed the same way)."""
    if settings["source"] in KB_SOURCES:
        return kb.load(settings, tasks, valid_fraction)
    if settings["source"] == "babi":
        return load_splits(settings["data_dir"], tasks, settings["variant"], valid_fraction)
    with tempfile.TemporaryDirectory(prefix="memnets-generated-") as folder:
        write_tasks(folder, tasks, settings["questions"], settings["data_seed"])
        return load_splits(folder, tasks, "en", valid_fraction)


def describe(settings: dict) -> str:
    """The data a run read, as results and printed tables name it: the release and its variant, generated data with
    its seed, or a folder of bAbI-format files by its path; knowledge-base questions by their folder or generator."""
    if settings["source"] == "kb":
        return f"knowledge-base questions from {settings['data_dir']} ({settings['memory']} memories)"
    if settings["source"] == "generated-kb":
        return (f"a generated movie knowledge base ({settings['movies']} movies, seed {settings['data_seed']}, "
                f"{settings['memory']} memories; no download needed)")
    if settings.get("generated"):
        return f"bAbI-format data generated by memnets (seed {settings['generated']['seed']}) in {settings['data_dir']}"
    if settings["source"] == "babi" and settings.get("release"):
        return f"bAbI v1.2 release, variant '{settings['variant']}', from {settings['data_dir']}"
    if settings["source"] == "babi":
        return (f"bAbI-format files in {settings['data_dir']} (variant folder '{settings['variant']}'; "
                f"not the v1.2 release's files)")
    return (f"freshly generated bAbI data ({settings['questions']} questions per task and split, "
            f"seed {settings['data_seed']}; no download needed)")


def paper_column(settings: dict, model: str, model_cfg, training: TrainConfig, joint: bool) -> str | None:
    """The published column (``evaluate.PAPER``) that this run reproduces, if it reproduces one."""
    if settings["source"] != "babi" or settings.get("generated") or not settings.get("release"):
        return None  # the papers' figures are for the release's own files; KB runs report hits@1 and coverage
    small = settings["variant"] in ("en", "en-valid")
    if model == "memnn":
        published = model_cfg.adaptive and model_cfg.ngrams and model_cfg.nonlinear and model_cfg.time_features
        return "1k MemNN AM+NG+NL" if published and small and not joint else None
    if model != "memn2n":  # the papers publish no such column for the other models
        return None
    standard = (model_cfg.encoding.startswith("position") and model_cfg.temporal and model_cfg.tying == "adjacent"
                and model_cfg.hops == 3 and training.linear_start and training.random_noise > 0)
    if not standard:
        return None
    if small:
        return "1k PE LS RN joint" if joint else "1k PE LS RN"
    if not joint:
        return "10k PE LS RN*" if model_cfg.relu and model_cfg.embed_dim == 100 else "10k PE LS RN"
    return None


# ------------------------------------------------------------------------------------------------------ train


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Everything ``memnets train`` was asked to do."""

    model: str  # a name in memnets.models.MODELS
    tasks: list[int]
    joint: bool  # one model for all the tasks
    data: dict  # from data_settings
    model_options: dict  # config fields given on the command line; the rest come from the preset
    train_options: dict  # TrainConfig fields given on the command line
    run_dir: Path
    resume: bool = False
    progress: bool = True
    command: str = ""
    device: str = "cpu"  # where to train and test (see pick_device); not part of what makes two runs the same
    jobs: int = 1  # processes training at once on the CPU (tasks, or a run's restarts); not part of its identity


def claim_run_dir(exp: Experiment, overwrite: bool):
    """Lock the run directory for this process and check what it holds: a directory holding a run is only
    continued (``resume``) or replaced (``overwrite``), never silently mixed with a new one. Returns the open
    lock file; closing it (or the process ending) releases the lock."""
    run_dir = exp.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / LOCK_FILE
    had_lock = lock_path.exists()
    lock = open(lock_path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise RunDirError(f"{run_dir} is in use by another memnets run ({holder}); wait for it to finish "
                          f"or choose another --out") from None
    try:
        manifest = {"model": exp.model, "tasks": exp.tasks, "joint": exp.joint}
        held = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)
        if exp.resume:
            if not (run_dir / RUN_FILE).is_file():
                raise RunDirError(f"nothing to resume in {run_dir}: it holds no {RUN_FILE}; "
                                  f"start the run without --resume")
            recorded = json.loads((run_dir / RUN_FILE).read_text())
            checkpoint.require_same(run_dir / RUN_FILE, {k: recorded.get(k) for k in manifest}, manifest)
        elif held and not overwrite:
            raise RunDirError(f"{run_dir} already holds {', '.join(held[:4])}{', ...' if len(held) > 4 else ''}; "
                              f"continue that run with --resume, replace it with --overwrite, "
                              f"or choose another --out")
        elif held:  # --overwrite: nothing of the old run may be read or reported as part of the new one
            for name in held:
                path = run_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        evaluate.write_json(run_dir / RUN_FILE, {**manifest, "command": exp.command})
    except BaseException:  # refused: the directory is left exactly as it was found
        if not had_lock:
            lock_path.unlink()
        lock.close()
        raise
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}: {exp.command or 'memnets train'}\n")  # names this run to any second one
    lock.flush()
    return lock


def run(exp: Experiment, log: Callable[[str], None] = print, overwrite: bool = False) -> dict:
    """Train and test one model per task (or one joint model), write results.json and results.md; return the
    report. ``log`` receives one line per stage; the caller decides how to show it. The run directory is locked
    for the run's life (see :func:`claim_run_dir`)."""
    configs(exp.model, exp.joint, exp.model_options, exp.train_options)  # bad options: before touching the disk
    fresh = not exp.run_dir.exists()
    lock = None
    try:
        lock = claim_run_dir(exp, overwrite)
        return _run(exp, log)
    except BaseException:
        if fresh and exp.run_dir.is_dir() and {p.name for p in exp.run_dir.iterdir()} <= {LOCK_FILE, RUN_FILE}:
            shutil.rmtree(exp.run_dir)  # failed before it trained anything (bad data): leave nothing behind
        raise
    finally:
        if lock:
            lock.close()


def used_config(runs: dict) -> dict:
    """The model config the runs used (sized to their data): each field's value, or {run: value} for fields the
    runs were sized differently in (memory slots, vocabulary, sentence length), keyed by run (task01, ...)."""
    used = {name: r["model_config"] for name, r in runs.items() if "model_config" in r}
    merged = {}
    for field in next(iter(used.values()), {}):
        values = {name: cfg[field] for name, cfg in used.items()}
        merged[field] = next(iter(values.values())) if len({json.dumps(v) for v in values.values()}) == 1 else values
    return merged


def _run(exp: Experiment, log: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    model_cfg, train_cfg = configs(exp.model, exp.joint, exp.model_options, exp.train_options)
    options = {"model_name": exp.model,
               "model": {k: v for k, v in dataclasses.asdict(model_cfg).items() if k != "vocab_size"},
               "train": dataclasses.asdict(train_cfg), "data": exp.data}
    errors, not_run, runs, todo = {}, {}, {}, []
    for group in [exp.tasks] if exp.joint else [[t] for t in exp.tasks]:
        done = group_dir(exp, group) / "result.json"
        if exp.resume and done.is_file():  # finished before the interruption: keep its result
            finished = json.loads(done.read_text())
            checkpoint.require_same_run(done, finished["options"], options,
                                        {"model": MODELS[exp.model][0], "train": TrainConfig})
            runs[done.parent.name] = finished
            continue
        try:
            splits = read_data(exp.data, group, train_cfg.valid_fraction)
            require_supporting_facts(exp.model, splits["train"])
        except DataError as err:
            if exp.joint or len(exp.tasks) == 1:
                raise
            log(f"task {group[0]} not run: {err}")
            not_run[group[0]] = str(err)
            continue
        if not splits["train"] or not splits["valid"]:
            raise DataError(f"task {', '.join(map(str, group))}: {len(splits['train'])} training and "
                            f"{len(splits['valid'])} validation question(s) after holding out "
                            f"{train_cfg.valid_fraction:.0%} for validation; at least one of each is needed")
        todo.append((group, splits))
    # Tasks train in parallel processes, one per job (when that pays: PARALLEL_FROM_STEPS); a single run (one
    # task, or joint) may split its restarts instead (memnets.train).
    steps = sum(restart_steps(train_cfg, len(splits["train"])) for _, splits in todo)
    jobs = exp.jobs if torch.device(exp.device).type == "cpu" else 1
    parallel = min(jobs, len(todo)) if steps >= PARALLEL_FROM_STEPS else 1
    if parallel > 1:
        with process_pool(parallel) as pool:
            futures = [pool.submit(_train_group, dataclasses.replace(exp, progress=False), group, splits, train_cfg,
                                   options, 1) for group, splits in todo]
            outcomes = []
            for future in as_completed(futures):  # report each task as it finishes
                outcomes.append(future.result())
                for line in outcomes[-1][2]:
                    log(line)
    else:
        outcomes = [_train_group(exp, group, splits, train_cfg, options, jobs, log) for group, splits in todo]
    runs = dict(sorted({**runs, **{name: entry for name, entry, _ in outcomes}}.items()))
    for entry in runs.values():
        errors.update({int(t): e for t, e in entry["per_task"].items()})
    if not errors:
        raise DataError("no task could be run")

    column = paper_column(exp.data, exp.model, model_cfg, train_cfg, exp.joint)
    if exp.data["source"] in KB_SOURCES:
        caps = {int(t): c for r in runs.values() for t, c in r["coverage_cap"].items()}
        summary = evaluate.hits_summary(errors, caps)
    else:
        summary = evaluate.summarize(errors)
    steady = sum(r["steady_questions"] for r in runs.values())
    steady_time = sum(r["steady_seconds"] for r in runs.values())
    report = {"command": exp.command, "model": exp.model,
              "mode": "joint" if exp.joint else "per-task", "data": exp.data, "data_label": describe(exp.data),
              "model_config": used_config(runs), "train_config": options["train"], **summary,
              "paper_column": column, "paper": evaluate.paper_summary(column, sorted(errors)) if column else None,
              "tasks_not_run": {str(t): why for t, why in not_run.items()},
              # processes training at once: tasks side by side, or the groups of one run's restarts
              "processes": parallel if parallel > 1 else max(r.get("processes", 1) for r in runs.values()),
              "wall_seconds": round(time.perf_counter() - started, 1),
              "train_seconds": round(sum(r["train_seconds"] for r in runs.values()), 1),
              "questions_per_second": round(steady / steady_time) if steady_time else None, "runs": runs}
    evaluate.write_json(exp.run_dir / "results.json", report)
    table = evaluate.hits_table(summary) if "coverage_cap" in summary else evaluate.markdown_table(summary, column)
    (exp.run_dir / "results.md").write_text(f"Data: {report['data_label']}\n\n{table}")
    return report


def group_dir(exp: Experiment, group: list[int]) -> Path:
    """Where one model's training (a task's, or the joint model's) keeps its checkpoints and result."""
    return exp.run_dir if exp.joint else exp.run_dir / f"task{group[0]:02d}"


def _train_group(exp: Experiment, group: list[int], splits, train_cfg: TrainConfig, options: dict, jobs: int,
                 log: Callable[[str], None] | None = None) -> tuple[str, dict, list[str]]:
    """Train and test one model on ``splits`` (``read_data``): a task's, or the joint model on all of ``group``.
    Returns its directory's name, its result, and the lines it logged (also passed to ``log`` as they come, when
    given)."""
    lines = []

    def say(line: str) -> None:
        lines.append(line)
        if log:
            log(line)

    run_dir = group_dir(exp, group)
    vocab, model_cfg, data = tensorize(exp, splits)
    label = "joint" if exp.joint else f"task {group[0]}"
    say(f"{label}: {len(data['train'])} train / {len(data['valid'])} valid / {len(data['test'])} test"
        f" questions, vocabulary {len(vocab)}, {model_cfg.memory_size} memory slots, "
        f"{train_cfg.restarts} restart(s)")
    result = train(exp.model, model_cfg, data["train"], data["valid"], train_cfg, vocab,
                   {**exp.data, "tasks": group}, run_dir=run_dir, resume=exp.resume and resumable(run_dir),
                   progress=exp.progress, device=exp.device, jobs=jobs)
    group_errors = evaluate.task_errors(result.model, data["test"])
    entry = {"per_task": {str(t): e for t, e in group_errors.items()}, "options": options,
             **(kb_sizes(splits) if isinstance(splits, kb.KBData) else {}),
             "model_config": dataclasses.asdict(model_cfg),
             "best_restart": result.best_restart, "valid_error": result.valid_error,
             "train_seconds": round(result.train_seconds, 2),
             "questions_per_second": round(result.questions_per_second),
             "steady_questions": result.steady_questions,
             "steady_seconds": round(result.steady_seconds, 3), "processes": result.processes}
    if result.model.strongly_supervised:
        entry["supporting_fact_accuracy"] = evaluate.support_accuracy(result.model, data["test"])
    evaluate.write_json(run_dir / "result.json", entry)
    if isinstance(splits, kb.KBData):
        say(f"{label}: test hits@1 " + ", ".join(f"{t}-hop {100 - e:.1f}%" for t, e in group_errors.items())
            + f" ({result.train_seconds:.0f} s, {result.questions_per_second:,.0f} questions/s)")
    elif not exp.joint:
        say(f"task {group[0]}: test error {group_errors[group[0]]:.1f}% "
            f"({result.train_seconds:.0f} s, {result.questions_per_second:,.0f} questions/s)")
    return run_dir.name, entry, lines


def tensorize(exp: Experiment, splits) -> tuple:
    """The vocabulary, the model config sized to the data, and the tensors of every split."""
    if isinstance(splits, kb.KBData):
        questions = splits.questions["train"] + splits.questions["valid"]
        vocab = kb.build_vocab(splits.table, splits.entities, questions)
        model_cfg, _ = configs(exp.model, exp.joint, exp.model_options, exp.train_options, len(vocab))
        most = max(len(m) for ms in splits.memories.values() for m in ms)
        model_cfg = dataclasses.replace(model_cfg, entities=len(splits.entities),
                                        memory_size=max(1, min(model_cfg.memory_size, most)))
        tables = kb.encode_table(splits.table, vocab)
        data = {name: kb.vectorize(splits.questions[name], splits.memories[name], tables, vocab,
                                   model_cfg.memory_size) for name in ("train", "valid", "test")}
        return vocab, model_cfg, data
    vocab = Vocab.build(splits["train"] + splits["valid"])
    model_cfg, _ = configs(exp.model, exp.joint, exp.model_options, exp.train_options, len(vocab))
    model_cfg = fit_to_data(model_cfg, splits["train"])
    data = {name: vectorize(records, vocab, model_cfg.memory_size) for name, records in splits.items()}
    return vocab, model_cfg, data


def kb_sizes(data: kb.KBData) -> dict:
    """What a knowledge-base run reports beside hits@1: the coverage caps and the memory sizes hashing gave."""
    sizes = {}
    for name, lists in data.memories.items():
        n = sorted(len(m) for m in lists)
        sizes[name] = {"mean": round(sum(n) / len(n), 1), "median": n[len(n) // 2], "max": n[-1]}
    caps = data.coverage("test")
    return {"coverage_cap": caps["memory"], "answer_in_kb": caps["kb"], "memories_per_question": sizes,
            "memory_table": len(data.table)}


# ------------------------------------------------------------------------------------------------- eval, ask


def evaluate_checkpoints(paths: list[Path], data_dir: str | None, variant: str | None, tasks: list[int] | None,
                         log: Callable[[str], None] = print, device: str = "cpu") -> dict:
    """Test checkpoints on the data they were trained on (generated data is regenerated from its seed) or on the
    bAbI data in ``data_dir``; returns the summary of every task tested."""
    errors, caps = {}, {}
    given = data_settings("babi", data_dir, variant or "en", 0, 0) if data_dir and variant else None  # hashed once
    for path in paths:
        model, vocab, meta = checkpoint.load_model(path)
        model.to(device)
        settings = dict(meta["data"])
        if settings["source"] in KB_SOURCES:
            if data_dir:
                settings.update(source="kb", data_dir=str(Path(data_dir).resolve()))
            data = kb.load(settings, tasks or settings["tasks"], 0.1)
            test = kb.vectorize(data.questions["test"], data.memories["test"], kb.encode_table(data.table, vocab),
                                vocab, model.config.memory_size)
            found = evaluate.task_errors(model, test)
            caps.update(data.coverage()["memory"])
            log(f"{path}: " + ", ".join(f"{t}-hop hits@1 {100 - e:.1f}%" for t, e in found.items()))
            errors.update(found)
            continue
        if data_dir:  # the release check hashes every task file: once for all checkpoints when the variant is given
            found_in = given or data_settings("babi", data_dir, settings["variant"], 0, 0)
            settings = {**found_in, "tasks": settings["tasks"]}
        test = vectorize(read_data(settings, tasks or settings["tasks"], 0.1)["test"], vocab, model.config.memory_size)
        found = evaluate.task_errors(model, test)
        log(f"{path} on {describe(settings)}: " + ", ".join(f"task {t} {e:.1f}%" for t, e in found.items()))
        errors.update(found)
    return evaluate.hits_summary(errors, caps) if caps else evaluate.summarize(errors)


class Answer(NamedTuple):
    """One answered question, for people: what ``ask``, the run's examples and the plots show."""

    answer: str
    sentences: list[str]  # the story sentences the model's memory held, oldest first
    step: str  # "hop" (End-To-End attention) or "lookup" (MemNN's O)
    weights: list[list[float]]  # per hop: attention over the sentences; per lookup: s_O of each sentence
    chosen: list[int | None]  # per hop or lookup, the sentence it picked (None: STOP, or no lookup)
    parts: dict[str, list[list[float]]] = {}  # HMNet's other attentions per hop: "gate" (per sentence), "region"
    # (α_r, region 1 the most recent), "output" (over the states of earlier hops)


def answer(model, vocab: Vocab, story: list[str], question: str) -> Answer:
    """The model's answer to ``question`` about ``story``, with what each hop or lookup looked at."""
    record = QARecord(tuple(story), question, "<unk>", (), 0)
    batch = vectorize([record], vocab, model.config.memory_size)
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(**model.inputs(batch.tensors(device=device), False, supervised=False))
    kept = int((batch.time[0] > 0).sum())
    sentences = list(story)[-kept:]
    text = vocab.words[int(out.logits[0].argmax())]
    if model.strongly_supervised:  # MemNN: the memory each lookup selected, and the scores it chose by
        chosen = [int(s) if 0 <= int(s) < kept else None for s in out.selected[0].tolist()]
        return Answer(text, sentences, "lookup", [row[:kept].tolist() for row in out.scores[0]], chosen)
    weights = [a[0, :kept].tolist() for a in out.attention]
    parts = {}
    if hasattr(out, "gates"):  # HMNet
        parts = {"gate": [g[0, :kept].tolist() for g in out.gates], "region": [r[0].tolist() for r in out.regions],
                 "output": [o[0].tolist() for o in out.output_attention]}
    return Answer(text, sentences, "hop", weights, [max(range(kept), key=w.__getitem__) for w in weights],
                  {k: v for k, v in parts.items() if v})


class KBAnswer(NamedTuple):
    """One knowledge-base question answered, for people: what ``ask`` and the run's examples show."""

    answer: str
    entities: tuple[str, ...]  # the topic entity the question was hashed on
    memories: int  # how many memories hashing (or the subgraph) gave it
    hops: list[list[tuple[str, float]]]  # per hop, the keys it addressed most: (memory as text, weight)


def kb_answer(model, vocab: Vocab, memory: kb.KnowledgeBase, tables, question: str, task: int,
              top: int = 3) -> KBAnswer:
    """The model's answer to one question, with the ``top`` memories of each hop's key addressing."""
    tokens, entities = kb.question_symbols(question, "question", memory.matcher)
    q = kb.KBQuestion(question, tokens, entities, (), task)
    ids = kb.memories_of(memory.hashing, q, memory.settings)[:model.config.memory_size]
    batch = kb.vectorize([q], [ids], tables, vocab, model.config.memory_size)
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(**model.inputs(batch.tensors(device=device), False, supervised=False))
    hops = []
    for p in out.attention:
        weights = p[0, :len(ids)]
        order = weights.argsort(descending=True)[:top].tolist()
        hops.append([(memory.table.render(ids[i]), float(weights[i])) for i in order])
    best = int(out.logits[0].argmax())
    text = vocab.words[best] if ids else "(no memory: no entity of the knowledge base in the question)"
    return KBAnswer(text, entities, len(ids), hops)
