"""The ``memnets`` command: argument parsing and printing only; the work is done by the modules it calls.

    memnets train [--model memn2n|memnn] [--task 1] ...      train (and test) memory networks
    memnets eval RUN_OR_CHECKPOINT                           per-task test error of trained models
    memnets ask CHECKPOINT [--file F] [--plot out.png]        answer questions about stories you type
    memnets generate --task 1-20 --questions 1000 --out DIR   write generated bAbI tasks
    memnets data download babi                               fetch the bAbI v1.2 release into the cache
    memnets serve RUN_DIR_OR_CHECKPOINT...                   a web page and JSON API answering questions
"""
from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from pathlib import Path

import torch

from memnets import checkpoint, evaluate, experiment
from memnets.data import download, kb
from memnets.data.babi import VARIANTS, DataError, decode, parse_tasks, tokenize
from memnets.data.generator import Knobs, write_tasks
from memnets.models import MODELS
from memnets.train import BEST, OPTIMIZERS

class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, naming the command and what is wrong."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------------------------------- train

# Options that set a field of a model's config (dest = the field) or of TrainConfig; None = not given (preset).
MODEL_FIELDS = sorted({f for config_cls, _ in MODELS.values() for f in config_cls.__dataclass_fields__} - {"vocab_size"})
TRAIN_FIELDS = ("epochs", "lr", "ls_lr", "anneal_every", "batch_size", "linear_start", "ls_epochs", "ls_patience",
                "random_noise", "restarts", "seed", "compile", "optimizer", "weight_decay")


def use_threads(count: int | None) -> None:
    """PyTorch's CPU threads for this command: ``--threads``, else $OMP_NUM_THREADS, else 1. A memory network's
    operations are small (a batch of 32 stories), so one thread loses little on an idle machine and a second one
    cost 4-7x when other processes shared the cores (the runs of docs/results/speed.md in git history)."""
    torch.set_num_threads(count or int(os.environ.get("OMP_NUM_THREADS") or 1))


def default_jobs() -> int:
    """Processes that train at once by default: one per CPU core this process may use, each with its threads."""
    return max(1, len(os.sched_getaffinity(0)) // torch.get_num_threads())


KB_KNOBS = ("memory", "templates", "conjunction", "coreference", "threshold", "bound")  # --model kvmemnn's data


def cmd_train(args) -> int:
    use_threads(args.threads)
    if args.model == "kvmemnn":
        tasks = kb.parse_tasks(args.task)
        knobs = {k: getattr(args, k) for k in KB_KNOBS if getattr(args, k) is not None}
        settings = experiment.kb_data_settings(args.data_dir, args.questions, args.data_seed, knobs)
    else:
        tasks = parse_tasks(args.task)
        settings = experiment.data_settings(args.data, args.data_dir, args.variant, args.questions, args.data_seed)
    run_dir = Path(args.out or time.strftime("runs/%Y%m%d-%H%M%S"))
    exp = experiment.Experiment(
        model=args.model, tasks=tasks, joint=args.joint, data=settings,
        model_options={f: getattr(args, f) for f in MODEL_FIELDS if getattr(args, f, None) is not None},
        train_options={f: getattr(args, f) for f in TRAIN_FIELDS if getattr(args, f) is not None},
        run_dir=run_dir, resume=args.resume, progress=not args.quiet, command="memnets " + " ".join(args.argv),
        device=str(experiment.pick_device(args.device)), jobs=args.jobs or default_jobs())
    experiment.configs(exp.model, exp.joint, exp.model_options, exp.train_options)  # bad options: before any work
    names = {"memn2n": "End-To-End Memory Networks", "memnn": "Memory Networks (MemNN)",
             "kvmemnn": "Key-Value Memory Networks", "hmn": "the Hierarchical Memory Network (HMNet)"}
    print(f"memnets: training {names.get(args.model, args.model)} on {experiment.describe(settings)}")
    print(f"memnets: tasks {args.task} ({'one joint model' if args.joint else 'one model per task'}) on "
          f"{exp.device}, run directory {run_dir}")
    if args.resume and args.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: pass one of them")
    report = experiment.run(exp, log=lambda line: print(f"memnets: {line}"), overwrite=args.overwrite)
    if report.get("metric") == "hits@1":
        print()
        print(evaluate.hits_table(report))
        print(f"memnets: mean hits@1 {report['mean_hits_at_1']:.1f}%; wall time {report['wall_seconds']:.0f} s; "
              f"results in {run_dir / 'results.json'}")
        if args.examples > 0:
            first = min(tasks)
            show_kb_examples(run_dir / (BEST if args.joint else f"task{first:02d}/{BEST}"), settings, first,
                             args.examples)
        return 0
    summary = {k: report[k] for k in ("per_task", "mean_error", "failed_tasks")}
    print()
    print(evaluate.markdown_table(summary, report["paper_column"]))
    print(f"memnets: mean test error {summary['mean_error']:.1f}%, {summary['failed_tasks']} failed task(s); "
          f"wall time {report['wall_seconds']:.0f} s; results in {run_dir / 'results.json'}")
    if args.examples > 0:
        first = min(int(t) for t in summary["per_task"])
        show_examples(run_dir / (BEST if args.joint else f"task{first:02d}/{BEST}"), settings, first, args.examples)
    print(f"memnets: to ask it questions in the browser: memnets serve {run_dir}, then open http://127.0.0.1:8000/")
    return 0


def show_examples(path: Path, settings: dict, task: int, count: int) -> None:
    """Answer the first few test questions of ``task`` and print what each hop or lookup looked at."""
    model, vocab, meta = checkpoint.load_model(path)
    records = experiment.read_data(settings, [task], 0.1)["test"][:count]
    print(f"\nmemnets: {len(records)} test question(s) of task {task}, answered by {path}:")
    for record in records:
        found = experiment.answer(model, vocab, list(record.story), record.question)
        mark = "right" if found.answer == record.answer else f"wrong, expected {record.answer}"
        print_answer(record.question, found, mark)


def show_kb_examples(path: Path, settings: dict, task: int, count: int) -> None:
    """Answer the first few test questions of a knowledge-base task, with the top keys of every hop."""
    model, vocab, meta = checkpoint.load_model(path)
    data = experiment.read_data(settings, [task], 0.1)
    memory = kb.KnowledgeBase(data.table, data.entities, data.hashing, kb.EntityMatcher(data.entities), settings)
    tables = kb.encode_table(data.table, vocab)
    print(f"\nmemnets: {min(count, len(data.questions['test']))} test question(s) of {kb.TASK_NAMES[task]}, "
          f"answered by {path}:")
    for q in data.questions["test"][:count]:
        found = experiment.kb_answer(model, vocab, memory, tables, q.text, task)
        print_kb_answer(q.text, found, "right" if found.answer in q.answers else f"wrong, expected "
                        f"{' | '.join(q.answers[:3])}{' | ...' if len(q.answers) > 3 else ''}")


def print_kb_answer(question: str, found: experiment.KBAnswer, note: str = "") -> None:
    print(f"\nQ: {question}   A: {found.answer}" + (f"   ({note})" if note else ""))
    print(f"  topic entity: {', '.join(found.entities) or 'none found'}; {found.memories} memories")
    for j, top in enumerate(found.hops):
        print(f"  hop {j + 1}: " + "; ".join(f"{w:.2f} {text}" for text, w in top))


def kb_ask_loop(model, vocab, meta, source, interactive: bool) -> int:
    """Answer knowledge-base questions, one a line (``[topic entity]`` brackets optional), from the knowledge base
    the model was trained on."""
    settings = meta["data"]
    task = max(settings.get("tasks", [1]))
    memory = kb.load_memories(settings, [1])
    tables = kb.encode_table(memory.table, vocab)
    if interactive:
        print(f"Type a question about the knowledge base ({kb.TASK_NAMES[task]} model); Ctrl-D quits.")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = source.readline()
        if not line:
            return 0
        text = line.split("\t")[0].strip()
        if text:
            print_kb_answer(text, experiment.kb_answer(model, vocab, memory, tables, text, task))


# ------------------------------------------------------------------------------------------------------ ask


def print_answer(question: str, found: experiment.Answer, note: str = "") -> None:
    """The answer, then one row per sentence: each hop's attention (or each lookup's score), marking its pick."""
    steps = len(found.weights)
    gates = found.parts.get("gate", [])  # HMNet: its attention GRU's gates, beside each hop's read
    print(f"\nQ: {question}   A: {found.answer}" + (f"   ({note})" if note else ""))
    heads = [f"{found.step} {k + 1}" for k in range(steps)] + [f"gate {k + 1}" for k in range(len(gates))]
    print("  " + "  ".join(heads))
    width = len(found.step) + 2
    for i, sentence in enumerate(found.sentences):
        cells = "  ".join([f"{found.weights[k][i]:{width}.2f}" for k in range(steps)]
                          + [f"{g[i]:6.2f}" for g in gates])
        focus = [str(k + 1) for k in range(steps) if found.chosen[k] == i]
        print(f"  {cells}  {sentence}" + (f"   <- {found.step} {','.join(focus)}" if focus else ""))
    for k, alpha in enumerate(found.parts.get("region", [])):
        print(f"  hop {k + 1} regions (most recent first): " + " ".join(f"{a:.2f}" for a in alpha))
    for k, omega in enumerate(found.parts.get("output", [])):
        print(f"  hop {k + 1} output memory (query, hop 1, ...): " + " ".join(f"{o:.2f}" for o in omega))
    if found.step == "hop":
        empty = [1 - sum(w) for w in found.weights]  # the softmax weight that went to empty (nil) memory slots
        if empty and max(empty) >= 0.005:  # (a sequence reader has no attention at all)
            print("  " + "  ".join(f"{e:{width}.2f}" for e in empty) + "  (empty memory slots)")
    else:
        stops = [str(k + 1) for k in range(steps) if found.chosen[k] is None]
        if stops:
            print(f"  lookup {','.join(stops)}: STOP (no further memory needed)")


def cmd_ask(args) -> int:
    model, vocab, meta = checkpoint.load_model(args.checkpoint)
    model.to(experiment.pick_device(args.device))
    if meta["model"] == "kvmemnn":
        source = io.StringIO(decode(Path(args.file).read_bytes(), args.file)) if args.file else sys.stdin
        return kb_ask_loop(model, vocab, meta, source, not args.file and sys.stdin.isatty())
    if args.file:
        text = decode(Path(args.file).read_bytes(), args.file)  # a bad byte: one error naming the file and line
        return ask_loop(model, vocab, io.StringIO(text), False, args.plot)
    return ask_loop(model, vocab, sys.stdin, sys.stdin.isatty(), args.plot)


def ask_loop(model, vocab, source, interactive: bool, plot: str | None) -> int:
    """Read story sentences and questions line by line; answer each question with its attention."""
    from memnets.plot import plot_attention

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
        found = experiment.answer(model, vocab, story, text)
        print_answer(text, found, f"unknown words: {', '.join(unknown)}" if unknown else "")
        asked += 1
        if plot:
            path = Path(plot) if Path(plot).suffix else Path(plot + ".png")  # the name it is saved under
            if asked > 1:
                path = path.with_name(f"{path.stem}-{asked}{path.suffix}")
            print(f"  {'attention' if found.step == 'hop' else 'lookup'} plot: {plot_attention(found, text, path)}")
    return 0


# ----------------------------------------------------------------------------------------------------- eval


def parse_any_tasks(spec: str, target: Path) -> list[int]:
    """bAbI task numbers, or knowledge-base hop counts (``1-hop``) when the checkpoints are of kvmemnn."""
    first = next(iter(sorted(target.glob(f"**/{BEST}")) if target.is_dir() else [target]), None)
    if first is not None and checkpoint.load(first)[1].get("model") == "kvmemnn":
        return kb.parse_tasks(spec)
    return parse_tasks(spec)


def cmd_eval(args) -> int:
    use_threads(args.threads)
    target = Path(args.checkpoint)
    paths = sorted(target.glob(f"**/{BEST}")) if target.is_dir() else [target]
    if not paths:
        raise checkpoint.CheckpointError(f"no {BEST} found under {target}")
    started = time.perf_counter()
    summary = experiment.evaluate_checkpoints(paths, args.data_dir, args.variant,
                                              parse_any_tasks(args.task, target) if args.task else None,
                                              log=lambda line: print(f"memnets: {line}"),
                                              device=experiment.pick_device(args.device))
    print()
    print(evaluate.hits_table(summary) if "coverage_cap" in summary else evaluate.markdown_table(summary, None))
    out = Path(args.out) if args.out else (target if target.is_dir() else target.parent) / "eval.json"
    evaluate.write_json(out, {"checkpoints": [str(p) for p in paths], **summary,
                              "wall_seconds": round(time.perf_counter() - started, 2)})
    if "coverage_cap" in summary:
        print(f"memnets: mean hits@1 {summary['mean_hits_at_1']:.1f}%; wrote {out}")
    else:
        print(f"memnets: mean test error {summary['mean_error']:.1f}%, {summary['failed_tasks']} failed; wrote {out}")
    return 0


# ---------------------------------------------------------------------------------------------------- serve


def cmd_serve(args) -> int:
    from memnets import serve  # FastAPI and uvicorn load only for this command

    models = serve.load_models(args.checkpoints, log=lambda line: print(f"memnets: {line}"))
    sock = serve.listen(args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}/"
    print(f"memnets: serving {len(models)} model(s) at {url} (API: POST {url}api/answer, described in "
          f"{url}openapi.json); Ctrl-C stops", flush=True)
    serve.run(serve.create_app(models), sock)
    return 0


# ------------------------------------------------------------------------------------------ generate, data


def cmd_generate(args) -> int:
    tasks = parse_tasks(args.task)
    knobs = Knobs(n_actors=args.actors, n_objects=args.objects, n_locations=args.locations,
                  story_length=args.story_length, n_supporting=args.supporting,
                  support_distance=args.support_distance)
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
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return check


def finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def distance_knob(text: str) -> int | str:
    if text == "spread":
        return text
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a number of statements >= 1 or 'spread', got {text}")
    return value


def add_device_options(p: argparse.ArgumentParser, threads: bool) -> None:
    """``--device`` (and ``--threads``) of the commands that run a model."""
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto",
                   help="where to run: cpu, cuda, or auto (default: CUDA when present)")
    if threads:
        p.add_argument("--threads", type=positive(int), help="CPU threads (default: $OMP_NUM_THREADS, else 1)")


def build_parser() -> Parser:
    parser = Parser(prog="memnets", description="Memory networks for question answering.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train memory networks on bAbI and test them")
    p.add_argument("--model", choices=list(MODELS), default="memn2n",
                   help="memn2n: End-To-End Memory Network (default); memnn: MemNN, strongly supervised")
    p.add_argument("--task", default="1", help="tasks: 1, 1,2,5, 1-20 or all (default 1); kvmemnn: 1-hop,2-hop,3-hop")
    p.add_argument("--joint", action="store_true", help="one model for all the tasks (memn2n: d=50, 60 epochs)")
    p.add_argument("--data", choices=["generated", "babi"], default=None,
                   help="generated (default) or the bAbI release (found via --data-dir, MEMNETS_DATA, the cache)")
    p.add_argument("--data-dir", help="a bAbI directory or tarball (implies --data babi)")
    p.add_argument("--variant", default="en", choices=VARIANTS, help="release variant (default en, 1k)")
    p.add_argument("--questions", type=positive(int), default=1000, help="generated questions per task and split")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated data")
    # Model options: each sets the config field of its name (None: the preset's value); one the chosen model's
    # config lacks is refused.
    m = p.add_argument_group("model options (fields of the model's config; defaults are the paper's)")
    m.add_argument("--embed-dim", dest="embed_dim", type=positive(int),
                   help="d, the embedding size (memn2n: 20, joint 50; memnn: 50)")
    m.add_argument("--memory-size", dest="memory_size", type=positive(int),
                   help="most memory slots (memn2n: 50; memnn: 1000); fewer if no story needs them")
    m.add_argument("--hops", type=positive(int), help="memn2n: K hops (3)")
    m.add_argument("--encoding", choices=["position", "position-released", "bow"],
                   help="memn2n: position-released: the authors' code's PE, which reproduces Table 1 (default); "
                        "position: the formula the paper prints")
    m.add_argument("--no-temporal", dest="temporal", action="store_false", default=None,
                   help="memn2n: no temporal encoding")
    m.add_argument("--tying", choices=["adjacent", "layerwise", "shared"],
                   help="memn2n: weight tying, adjacent (default) or layerwise; hmn: adjacent (default) or shared "
                        "(one embedding; the default with region attention)")
    m.add_argument("--relu", action="store_true", default=None, help="memn2n: ReLU on the controller after each hop")
    m.add_argument("--lookups", type=positive(int),
                   help="memnn: k lookups (2); with AM, the most lookups (default: the most supporting facts)")
    m.add_argument("--no-adaptive", dest="adaptive", action="store_false", default=None,
                   help="memnn: exactly k lookups, no STOP memory (AM off)")
    m.add_argument("--no-ngrams", dest="ngrams", action="store_false", default=None,
                   help="memnn: bag of words only (NG off)")
    m.add_argument("--ngram-buckets", dest="ngram_buckets", type=positive(int), help="memnn: hashed N-gram ids (4096)")
    m.add_argument("--no-nonlinear", dest="nonlinear", action="store_false", default=None,
                   help="memnn: linear matching function (NL off)")
    m.add_argument("--no-time-features", dest="time_features", action="store_false", default=None,
                   help="memnn: no write-time features (plain argmax lookups)")
    m.add_argument("--margin", type=positive(float), help="memnn: margin γ of the ranking loss (0.1)")
    m.add_argument("--region-size", dest="region_size", type=positive(int), help="hmn: rows per memory region (10)")
    m.add_argument("--top-k", dest="top_k", type=count, help="hmn: regions read per hop (0: all)")
    m.add_argument("--regions", dest="regions", action="store_true", default=None,
                   help="hmn: region attention (part 5) whatever the memory size (default: from 100 rows)")
    for part, what in (("memory-types", "memory-type embeddings (part 1)"), ("content-read", "content read (part 2)"),
                       ("attention-gru", "attention GRU (part 3)"), ("output-memory", "output memory (part 4)"),
                       ("regions", "region attention (part 5)")):
        m.add_argument(f"--no-{part}", dest=part.replace("-", "_"), action="store_false", default=None,
                       help=f"hmn: without its {what}")
    m.add_argument("--region-pool", dest="region_pool", choices=["sum", "max"],
                   help="hmn: pool each region's weighted rows by max (default) or sum")
    m.add_argument("--reads", choices=["words", "sentences"],
                   help="lstm: the story word by word (default, the paper's LSTM) or one statement at a time")
    m.add_argument("--layers", type=positive(int), help="transformer: encoder layers (2)")
    m.add_argument("--heads", type=positive(int), help="transformer: attention heads (2)")
    m.add_argument("--tie-answer", dest="tie_answer", action="store_true", default=None,
                   help="kvmemnn: score answers with A itself (B = A)")
    m.add_argument("--no-tie-answer", dest="tie_answer", action="store_false", help="kvmemnn: a separate B")
    m.add_argument("--candidates", choices=["all", "memory"],
                   help="kvmemnn: answer among all entities, or those of the question's memories")
    m.add_argument("--freeze-entities", dest="freeze_entities", action="store_true", default=None,
                   help="kvmemnn: keep the entities' embeddings at their random start")
    m.add_argument("--train-entities", dest="freeze_entities", action="store_false",
                   help="kvmemnn: learn the entities' embeddings (the paper)")
    m.add_argument("--no-hop-maps", dest="learn_hop_maps", action="store_false", default=None,
                   help="kvmemnn: R_j = I (q_{j+1} = q_j + o) instead of learned R_j")
    m.add_argument("--init-std", dest="init_std", type=positive(float),
                   help="kvmemnn: standard deviation of the initial embeddings (0.1)")
    k = p.add_argument_group("knowledge-base data (--model kvmemnn; --data-dir: MetaQA or WikiMovies files)")
    k.add_argument("--memory", dest="memory", choices=kb.REPRESENTATIONS,
                   help="kb: triples (default); sentence, window, window-centre, window-title: documents "
                        "rendered from the triples")
    k.add_argument("--templates", type=positive(int), help="documents: phrasings per relation, 1-3 (1)")
    k.add_argument("--conjunction", type=finite, help="documents: share of sentences joined by 'and' (0)")
    k.add_argument("--coreference", type=finite, help="documents: share of later subjects made 'it' (0)")
    k.add_argument("--threshold", type=positive(int), help="key hashing: skip words this frequent (1000)")
    k.add_argument("--bound", type=positive(int), help="multi-hop: most memories of a subgraph (1000)")
    t = p.add_argument_group("training options (defaults: the model's preset)")
    t.add_argument("--epochs", type=positive(int), help="epochs after linear start (memn2n 100, joint 60; memnn 20)")
    t.add_argument("--anneal-every", dest="anneal_every", type=positive(int), help="halve lr every N epochs")
    t.add_argument("--ls-epochs", dest="ls_epochs", type=positive(int), help="longest linear-start phase")
    t.add_argument("--ls-patience", dest="ls_patience", type=positive(int),
                   help="end linear start after N epochs without a better validation loss (5; joint 30, i.e. "
                        "never before --ls-epochs)")
    t.add_argument("--lr", type=positive(float), help="learning rate without linear start (0.01)")
    t.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="sgd (the papers', the default) or adam (--lr is then Adam's step size)")
    t.add_argument("--weight-decay", dest="weight_decay", type=finite,
                   help="L2 penalty on every weight, added to its gradient (0)")
    t.add_argument("--ls-lr", dest="ls_lr", type=positive(float),
                   help="learning rate of a run with linear start, for the whole schedule (0.005)")
    t.add_argument("--batch-size", dest="batch_size", type=positive(int), help="questions per batch (32)")
    t.add_argument("--linear-start", dest="linear_start", action="store_true", default=None,
                   help="begin with the softmaxes of the memory reads removed (End-To-End §4.2; memn2n's default)")
    t.add_argument("--no-linear-start", dest="linear_start", action="store_false")
    t.add_argument("--noise", dest="random_noise", type=finite,
                   help="random-noise fraction of empty memories (memn2n 0.1; 0 = off)")
    t.add_argument("--restarts", type=positive(int), help="random restarts; the best by validation (1)")
    t.add_argument("--seed", type=int)
    t.add_argument("--no-compile", dest="compile", action="store_false", default=None,
                   help="train in eager mode (no torch.compile)")
    t.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="compile the training step even for a short run (default: from 20,000 steps x restarts)")
    p.add_argument("--out", help="run directory (default runs/<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run that --out holds (never done silently)")
    p.add_argument("--examples", type=count, default=3, help="test questions to answer and show at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_device_options(p, threads=True)
    p.add_argument("--jobs", type=positive(int),
                   help="processes training at once on the CPU: tasks in parallel, or the restarts of one run split "
                        "between them (default: one per core; results do not depend on it)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="test trained models: per-task error, mean, failed tasks")
    p.add_argument("checkpoint", help="a checkpoint.safetensors, or a run directory")
    p.add_argument("--data-dir", help="test on the bAbI data here instead of the data the model was trained on")
    p.add_argument("--variant", choices=VARIANTS)
    p.add_argument("--task", help="tasks to test (default: those the model was trained on)")
    p.add_argument("--out", help="where to write the results JSON (default eval.json beside the checkpoint)")
    add_device_options(p, threads=True)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ask", help="answer questions about a story, showing what each hop or lookup read")
    p.add_argument("checkpoint")
    p.add_argument("--file", help="read story lines and questions from this file instead of standard input")
    p.add_argument("--plot", help="save an attention heatmap per question (out.png, out-2.png, ...)")
    add_device_options(p, threads=False)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="a web page and JSON API answering questions, with each hop's attention")
    p.add_argument("checkpoints", nargs="+", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="checkpoint.safetensors files, or run directories (every checkpoint under them)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=count, default=8000, help="port (default 8000; 0: any free port)")
    p.set_defaults(func=cmd_serve)

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
    p.add_argument("--support-distance", dest="support_distance", type=distance_knob,
                   help="tasks 1-3: put each question N statements after its oldest supporting fact, or 'spread' "
                        "the distance over the whole --story-length, with distractors between (one question a story)")
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
