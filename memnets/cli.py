"""The ``memnets`` command: argument parsing and printing only; the work is done by the modules it calls.

    memnets train [--task 1] [--joint] [--data-dir DIR] ...   train (and test) End-To-End Memory Networks
    memnets eval RUN_OR_CHECKPOINT                           per-task test error of trained models
    memnets ask CHECKPOINT [--file F] [--plot out.png]        answer questions about stories you type
    memnets generate --task 1-20 --questions 1000 --out DIR   write generated bAbI tasks
    memnets data download babi                               fetch the bAbI v1.2 release into the cache
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from memnets import checkpoint, evaluate
from memnets.data import download
from memnets.data.babi import VARIANTS, DataError, load_splits, parse_tasks, tokenize
from memnets.data.generator import Knobs, write_tasks
from memnets.data.tensors import vectorize
from memnets.data.vocab import Vocab
from memnets.models.memn2n import MemN2NConfig
from memnets.train import BEST, LAST, TrainConfig, train


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, naming the command and what is wrong."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ----------------------------------------------------------------------------------------------------- data


def data_settings(args) -> dict:
    """Where the questions come from: recorded in every checkpoint so that ``eval`` can read the same data."""
    if args.data == "babi" or (args.data is None and (args.data_dir or os.environ.get("MEMNETS_DATA"))):
        root = download.resolve_data_dir(args.data_dir)
        if root is None:
            raise DataError("no bAbI data found: pass --data-dir DIR, set MEMNETS_DATA, "
                            "or run 'memnets data download babi'")
        return {"source": "babi", "data_dir": str(Path(root).resolve()), "variant": args.variant}
    return {"source": "generated", "questions": args.questions, "data_seed": args.data_seed, "variant": "en"}


def read_data(settings: dict, tasks: list[int], valid_fraction: float) -> dict:
    """Train/valid/test records of ``tasks`` from the source that ``settings`` describes."""
    if settings["source"] == "babi":
        return load_splits(settings["data_dir"], tasks, settings["variant"], valid_fraction)
    with tempfile.TemporaryDirectory(prefix="memnets-generated-") as folder:
        write_tasks(folder, tasks, settings["questions"], settings["data_seed"])
        return load_splits(folder, tasks, "en", valid_fraction)


def describe(settings: dict) -> str:
    if settings["source"] == "babi":
        return f"bAbI v1.2 '{settings['variant']}' from {settings['data_dir']}"
    return (f"freshly generated bAbI data ({settings['questions']} questions per task and split, "
            f"seed {settings['data_seed']}; no download needed)")


# ---------------------------------------------------------------------------------------------------- train


def configs(args, vocab_size: int) -> tuple[MemN2NConfig, TrainConfig]:
    """Model and training configs from the options; --joint switches to the paper's joint-training defaults."""
    joint = {"embed_dim": 50, "epochs": 60, "anneal_every": 15, "ls_epochs": 30} if args.joint else {}

    def pick(name, default):
        value = getattr(args, name)
        return value if value is not None else joint.get(name, default)

    model = MemN2NConfig(vocab_size=vocab_size, embed_dim=pick("embed_dim", 20), hops=args.hops,
                         memory_size=args.memory_size, encoding=args.encoding, temporal=not args.no_temporal,
                         tying=args.tying, relu=args.relu)
    training = TrainConfig(epochs=pick("epochs", 100), lr=args.lr, anneal_every=pick("anneal_every", 25),
                           batch_size=args.batch_size, linear_start=not args.no_linear_start,
                           ls_epochs=pick("ls_epochs", 20), random_noise=args.noise, restarts=args.restarts,
                           seed=args.seed, compile=not args.no_compile)
    return model, training


def paper_column(settings: dict, model: MemN2NConfig, training: TrainConfig, joint: bool) -> str | None:
    """The Table 1 column of Sukhbaatar et al. that this run reproduces, if it reproduces one."""
    standard = (model.encoding == "position" and model.temporal and model.tying == "adjacent" and model.hops == 3
                and training.linear_start and training.random_noise > 0)
    if settings["source"] != "babi" or not standard:
        return None
    if settings["variant"] in ("en", "en-valid"):
        return "1k PE LS RN joint" if joint else "1k PE LS RN"
    if not joint:
        return "10k PE LS RN*" if model.relu and model.embed_dim == 100 else "10k PE LS RN"
    return None


def cmd_train(args) -> int:
    tasks = parse_tasks(args.task)
    settings = data_settings(args)
    run_dir = Path(args.out or time.strftime("runs/%Y%m%d-%H%M%S"))
    print(f"memnets: training End-To-End Memory Networks on {describe(settings)}")
    print(f"memnets: tasks {args.task} ({'one joint model' if args.joint else 'one model per task'}), "
          f"run directory {run_dir}")
    started = time.perf_counter()
    errors, not_run, runs = {}, {}, {}
    for group in [tasks] if args.joint else [[t] for t in tasks]:
        group_dir = run_dir if args.joint else run_dir / f"task{group[0]:02d}"
        done = group_dir / "result.json"
        if args.resume and done.is_file():  # finished before the interruption: keep its result
            runs[group_dir.name] = json.loads(done.read_text())
            errors.update({int(t): e for t, e in runs[group_dir.name]["per_task"].items()})
            continue
        try:
            splits = read_data(settings, group, 0.1)
        except DataError as err:
            if args.joint or len(tasks) == 1:
                raise
            print(f"memnets: task {group[0]} not run: {err}")
            not_run[group[0]] = str(err)
            continue
        vocab = Vocab.build(splits["train"] + splits["valid"])
        model_cfg, train_cfg = configs(args, len(vocab))
        data = {name: vectorize(records, vocab, model_cfg.memory_size) for name, records in splits.items()}
        label = "joint" if args.joint else f"task {group[0]}"
        print(f"memnets: {label}: {len(data['train'])} train / {len(data['valid'])} valid / {len(data['test'])} test"
              f" questions, vocabulary {len(vocab)}, {train_cfg.restarts} restart(s)")
        result = train("memn2n", model_cfg, data["train"], data["valid"], train_cfg, vocab,
                       {**settings, "tasks": group}, run_dir=group_dir,
                       resume=args.resume and (group_dir / LAST).is_file(), progress=not args.quiet)
        group_errors = evaluate.task_errors(result.model, data["test"])
        errors.update(group_errors)
        runs[group_dir.name] = {"per_task": {str(t): e for t, e in group_errors.items()},
                                "best_restart": result.best_restart, "valid_error": result.valid_error,
                                "train_seconds": round(result.train_seconds, 2),
                                "questions_per_second": round(result.questions_per_second),
                                "steady_questions": result.steady_questions,
                                "steady_seconds": round(result.steady_seconds, 3)}
        evaluate.write_json(done, runs[group_dir.name])
        if not args.joint:
            print(f"memnets: task {group[0]}: test error {group_errors[group[0]]:.1f}% "
                  f"({result.train_seconds:.0f} s, {result.questions_per_second:,.0f} questions/s)")
    if not errors:
        raise DataError("no task could be run")

    model_cfg, train_cfg = configs(args, vocab_size=1)  # as reported; each model's vocabulary is its own
    column = paper_column(settings, model_cfg, train_cfg, args.joint)
    summary = evaluate.summarize(errors)
    steady = sum(r["steady_questions"] for r in runs.values())
    steady_time = sum(r["steady_seconds"] for r in runs.values())
    report = {"command": "memnets " + " ".join(args.argv),
              "mode": "joint" if args.joint else "per-task", "data": settings,
              "model_config": {k: v for k, v in dataclasses.asdict(model_cfg).items() if k != "vocab_size"},
              "train_config": dataclasses.asdict(train_cfg), **summary,
              "paper_column": column, "paper": evaluate.paper_summary(column, sorted(errors)) if column else None,
              "tasks_not_run": {str(t): why for t, why in not_run.items()},
              "wall_seconds": round(time.perf_counter() - started, 1),
              "train_seconds": round(sum(r["train_seconds"] for r in runs.values()), 1),
              "questions_per_second": round(steady / steady_time) if steady_time else None, "runs": runs}
    evaluate.write_json(run_dir / "results.json", report)
    (run_dir / "results.md").write_text(evaluate.markdown_table(summary, column))
    print()
    print(evaluate.markdown_table(summary, column))
    print(f"memnets: mean test error {summary['mean_error']:.1f}%, {summary['failed_tasks']} failed task(s); "
          f"wall time {report['wall_seconds']:.0f} s; results in {run_dir / 'results.json'}")
    if args.examples:
        first = run_dir / (BEST if args.joint else f"task{min(errors):02d}/{BEST}")
        show_examples(first, settings, min(errors), args.examples)
    return 0


def show_examples(path: Path, settings: dict, task: int, count: int) -> None:
    """Answer the first few test questions of ``task`` and print each hop's attention over the story."""
    model, vocab, meta = checkpoint.load_model(path)
    records = read_data(settings, [task], 0.1)["test"][:count]
    print(f"\nmemnets: {count} test question(s) of task {task}, answered by {path}:")
    for record in records:
        answer, attention = answer_question(model, vocab, list(record.story), record.question)
        mark = "right" if answer == record.answer else f"wrong, expected {record.answer}"
        print_answer(list(record.story)[-model.config.memory_size:], record.question, answer, attention, mark)


# ------------------------------------------------------------------------------------------------------ ask


def answer_question(model, vocab: Vocab, story: list[str], question: str) -> tuple[str, list[list[float]]]:
    """The model's answer and its attention (one list per hop over the kept sentences) for one question."""
    from memnets.data.babi import QARecord

    record = QARecord(tuple(story), question, "<unk>", (), 0)
    batch = vectorize([record], vocab, model.config.memory_size)
    with torch.no_grad():
        out = model(batch.story, batch.query, batch.time)
    kept = int((batch.time[0] > 0).sum())
    return vocab.words[int(out.logits[0].argmax())], [a[0, :kept].tolist() for a in out.attention]


def print_answer(story: list[str], question: str, answer: str, attention: list[list[float]], note: str = "") -> None:
    hops = len(attention)
    print(f"\nQ: {question}   A: {answer}" + (f"   ({note})" if note else ""))
    print("  " + "  ".join(f"hop {k + 1}" for k in range(hops)))
    for i, sentence in enumerate(story):
        cells = "  ".join(f"{attention[k][i]:5.2f}" for k in range(hops))
        strongest = max(range(hops), key=lambda k: attention[k][i])
        flag = " <" if attention[strongest][i] == max(attention[strongest]) else ""
        print(f"  {cells}  {sentence}{flag}")


def cmd_ask(args) -> int:
    from memnets.plot import plot_attention

    model, vocab, meta = checkpoint.load_model(args.checkpoint)
    source = open(args.file, encoding="utf-8") if args.file else sys.stdin
    interactive = not args.file and sys.stdin.isatty()
    if interactive:
        print("Type story sentences, then a question ending in '?'. An empty line starts a new story; Ctrl-D quits.")
    story: list[str] = []
    asked = 0
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = source.readline()
        if not line:
            break
        text = line.strip()
        head, _, rest = text.partition(" ")
        if head.isdigit() and rest:  # a line of a bAbI file: "<id> <text>"; id 1 starts a new story
            if head == "1":
                story = []
            text = rest
        text = text.split("\t")[0].strip()
        if not text:
            story = []
            continue
        if not text.endswith("?"):
            story.append(text)
            continue
        if not story:
            print(f"Q: {text}   (no story yet: type some sentences first)")
            continue
        unknown = sorted({w for w in tokenize(text + " " + " ".join(story)) if w not in vocab.index})
        answer, attention = answer_question(model, vocab, story, text)
        kept = story[-model.config.memory_size:]
        print_answer(kept, text, answer, attention, f"unknown words: {', '.join(unknown)}" if unknown else "")
        asked += 1
        if args.plot:
            path = Path(args.plot)
            if asked > 1:
                path = path.with_name(f"{path.stem}-{asked}{path.suffix}")
            print(f"  attention plot: {plot_attention(kept, attention, text, answer, path)}")
    return 0


# ----------------------------------------------------------------------------------------------------- eval


def cmd_eval(args) -> int:
    target = Path(args.checkpoint)
    paths = sorted(target.glob(f"**/{BEST}")) if target.is_dir() else [target]
    if not paths:
        raise checkpoint.CheckpointError(f"no {BEST} found under {target}")
    errors, started = {}, time.perf_counter()
    for path in paths:
        model, vocab, meta = checkpoint.load_model(path)
        settings = dict(meta["data"])
        if args.data_dir:
            settings.update(source="babi", data_dir=args.data_dir, variant=args.variant or settings["variant"])
        tasks = parse_tasks(args.task) if args.task else settings["tasks"]
        test = vectorize(read_data(settings, tasks, 0.1)["test"], vocab, model.config.memory_size)
        found = evaluate.task_errors(model, test)
        print(f"memnets: {path}: " + ", ".join(f"task {t} {e:.1f}%" for t, e in found.items()))
        errors.update(found)
    summary = evaluate.summarize(errors)
    print()
    print(evaluate.markdown_table(summary, None))
    out = Path(args.out) if args.out else (target if target.is_dir() else target.parent) / "eval.json"
    evaluate.write_json(out, {"checkpoints": [str(p) for p in paths], **summary,
                              "wall_seconds": round(time.perf_counter() - started, 2)})
    print(f"memnets: mean test error {summary['mean_error']:.1f}%, {summary['failed_tasks']} failed; wrote {out}")
    return 0


# ------------------------------------------------------------------------------------------ generate, data


def cmd_generate(args) -> int:
    tasks = parse_tasks(args.task)
    knobs = Knobs(n_actors=args.actors, n_objects=args.objects, n_locations=args.locations,
                  story_length=args.story_length, n_supporting=args.supporting)
    started = time.perf_counter()
    paths = write_tasks(args.out, tasks, args.questions, args.seed, knobs, test_questions=args.test_questions)
    print(f"memnets: wrote {len(paths)} files for {len(tasks)} task(s) to {args.out} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_download(args) -> int:
    path = download.download_babi(Path(args.cache_dir) if args.cache_dir else None, progress=not args.quiet)
    print(f"memnets: bAbI v1.2 is in {path}; memnets train --data babi (or --data-dir {path}) reads it")
    return 0


# --------------------------------------------------------------------------------------------------- parser


def positive(kind):
    def check(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return check


def build_parser() -> Parser:
    parser = Parser(prog="memnets", description="Memory networks for question answering.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train End-To-End Memory Networks and test them")
    p.add_argument("--task", default="1", help="tasks: 1, 1,2,5, 1-20 or all (default 1)")
    p.add_argument("--joint", action="store_true", help="one model for all the tasks (d=50, 60 epochs)")
    p.add_argument("--data", choices=["generated", "babi"], default=None,
                   help="generated (default) or the bAbI release (found via --data-dir, MEMNETS_DATA, the cache)")
    p.add_argument("--data-dir", help="a bAbI directory or tarball (implies --data babi)")
    p.add_argument("--variant", default="en", choices=VARIANTS, help="release variant (default en, 1k)")
    p.add_argument("--questions", type=positive(int), default=1000, help="generated questions per task and split")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated data")
    p.add_argument("--embed-dim", dest="embed_dim", type=positive(int), help="d (default 20; joint 50)")
    p.add_argument("--hops", type=positive(int), default=3)
    p.add_argument("--memory-size", type=positive(int), default=50)
    p.add_argument("--encoding", choices=["position", "bow"], default="position")
    p.add_argument("--no-temporal", action="store_true", help="no temporal encoding")
    p.add_argument("--tying", choices=["adjacent", "layerwise"], default="adjacent")
    p.add_argument("--relu", action="store_true", help="ReLU on the controller after each hop")
    p.add_argument("--epochs", type=positive(int), help="epochs after linear start (default 100; joint 60)")
    p.add_argument("--anneal-every", dest="anneal_every", type=positive(int), help="halve lr every N epochs")
    p.add_argument("--ls-epochs", dest="ls_epochs", type=positive(int), help="longest linear-start phase")
    p.add_argument("--lr", type=positive(float), default=0.01)
    p.add_argument("--batch-size", type=positive(int), default=32)
    p.add_argument("--no-linear-start", action="store_true")
    p.add_argument("--noise", type=float, default=0.1, help="random-noise fraction of empty memories (0 = off)")
    p.add_argument("--restarts", type=positive(int), default=1, help="random restarts; the best by validation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-compile", action="store_true", help="train in eager mode (no torch.compile)")
    p.add_argument("--out", help="run directory (default runs/<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--examples", type=int, default=3, help="test questions to answer and show at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="test trained models: per-task error, mean, failed tasks")
    p.add_argument("checkpoint", help="a checkpoint.safetensors, or a run directory")
    p.add_argument("--data-dir", help="test on the bAbI data here instead of the data the model was trained on")
    p.add_argument("--variant", choices=VARIANTS)
    p.add_argument("--task", help="tasks to test (default: those the model was trained on)")
    p.add_argument("--out", help="where to write the results JSON (default eval.json beside the checkpoint)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ask", help="answer questions about a story, showing each hop's attention")
    p.add_argument("checkpoint")
    p.add_argument("--file", help="read story lines and questions from this file instead of standard input")
    p.add_argument("--plot", help="save an attention heatmap per question (out.png, out-2.png, ...)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("generate", help="write generated bAbI tasks in the release's file format")
    p.add_argument("--task", default="all", help="tasks: 1, 1,2,5, 1-20 or all (default all)")
    p.add_argument("--questions", type=positive(int), default=1000, help="questions per task in the train file")
    p.add_argument("--test-questions", type=positive(int), help="questions in the test file (default: same)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--actors", type=positive(int), help="people in the world (default: as in the release)")
    p.add_argument("--objects", type=positive(int), help="objects that can be carried")
    p.add_argument("--locations", type=positive(int), help="places")
    p.add_argument("--story-length", type=positive(int), help="statements per story, distractors included")
    p.add_argument("--supporting", type=positive(int), help="supporting facts per question, where allowed")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("data", help="data sets")
    data_sub = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    d = data_sub.add_parser("download", help="download a data set")
    d.add_argument("name", choices=["babi"])
    d.add_argument("--cache-dir", help="cache folder (default $XDG_CACHE_HOME/memnets or ~/.cache/memnets)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in results.json, so every result names the command that produced it
    try:
        return args.func(args)
    except (DataError, checkpoint.CheckpointError, download.DownloadError, ValueError, OSError) as err:
        print(f"memnets {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nmemnets {args.command}: interrupted" + (" (continue with --resume)" if args.command == "train"
                                                          else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
