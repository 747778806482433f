"""Benchmarks of memnets; each writes docs/results/<name>.json and .md, naming the command that produced it.

    python benchmarks/run.py babi1k      # Table 1 reproduction with the defaults: 1k, per task, PE LS RN, best of 10
    python benchmarks/run.py babi1k-eager      # the same in eager mode: what compiling the step gains
    python benchmarks/run.py babi1k-paper-pe   # the same with the position encoding as the paper prints it
    python benchmarks/run.py joint       # Table 1: 1k, all 20 tasks in one model, PE LS RN, with the defaults
    python benchmarks/run.py joint-one   # the same, one run (no restarts): its time
    python benchmarks/run.py joint-step  # the joint training step: filled slots only against every slot
    python benchmarks/run.py joint-paper-pe    # the same with the position encoding as the paper prints it
    python benchmarks/run.py babi10k     # Table 1: 10k, per task, PE LS RN
    python benchmarks/run.py speed       # the main job and task 1 (1k): before and after the defaults, side by side
    python benchmarks/run.py main-job    # the README's main job twice, beside the speed benchmark's: the day's cores
    python benchmarks/run.py encoders    # the memory encoder: dense product against sparse paths, per task and joint
    python benchmarks/run.py transfer    # generated vs real training data, both tested on the real test set
    python benchmarks/run.py transfer-spread   # the same for tasks 7 and 8, beside the spread of real 1k samples
    python benchmarks/run.py memnn-1k    # MemNN AM+NG+NL, strongly supervised, 1k per task, beside End-To-End
    python benchmarks/run.py memnn-1k-no-ngrams   # the same without N-grams (AM+NL)
    python benchmarks/run.py memnn-10k   # the same on 10k, beside the End-To-End 10k run
    python benchmarks/run.py memnn-hashing   # MemNN on 100,000-sentence stories: query time with and without hashing
    python benchmarks/run.py memnn-speed     # training questions/s of MemNN beside End-To-End, task 1 (1k)
    python benchmarks/run.py joint-subsets   # the joint model on subsets of the tasks that hold task 16
    python benchmarks/run.py joint-ls    # the joint model's linear start ended early or whole: which learns task 16
    python benchmarks/run.py joint-restarts    # every restart of the joint run tested (after `joint`; trains nothing)
    python benchmarks/run.py task16      # task 16 alone under each of the joint model's settings: which breaks it
    PEER_DIR=DIR python benchmarks/run.py peer   # whole process, task 1: nmhkahn/MemN2N-pytorch in DIR against ours
    BEFORE_DIR=DIR [BEFORE_ARGS=...] python benchmarks/run.py before   # whole process: an earlier commit's checkout against this
    BEFORE_DIR=DIR python benchmarks/run.py step   # the eager training loop's questions/s, the same two trees

The real bAbI data is read from $MEMNETS_BABI_DIR (default ../shared/data/babi beside the repository). Each
benchmark runs the ``memnets`` command itself, in a child process, and reads the results.json it writes.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
BABI = os.environ.get("MEMNETS_BABI_DIR", "../shared/data/babi")  # relative to the repository, where commands run


def memnets(args: list[str], tree: Path | None = None) -> tuple[dict, float, float]:
    """Run ``memnets ARGS``; returns (its results.json, wall seconds, peak resident memory of the child in MiB).

    Each run starts with an empty cache of compiled code (TORCHINDUCTOR_CACHE_DIR), as on a new machine: PyTorch
    otherwise keeps compiled steps on disk, and a run would take less time for having been run before. ``tree``,
    a checkout of another commit, runs that commit's package instead (on PYTHONPATH)."""
    out = Path(args[args.index("--out") + 1])
    if args[0] == "train" and "--resume" not in args:
        args = [*args, "--overwrite"]  # a benchmark's run directory holds its previous run
    # -P: the working directory (this checkout) does not come first on sys.path, so PYTHONPATH's tree is imported
    command = [sys.executable, *(["-P"] if tree else []), "-m", "memnets.cli", *args]
    print(f"$ {'PYTHONPATH=' + str(tree) + ' ' if tree else ''}memnets " + shlex.join(args), flush=True)
    with tempfile.TemporaryDirectory(prefix="memnets-bench-inductor-") as cache:
        started = time.perf_counter()
        path = {"PYTHONPATH": str(tree.resolve())} if tree else {}
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, **path})
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    return json.loads((out / "results.json").read_text()), wall, peak


def commit_of(tree: Path) -> str | None:
    """The short commit checked out in ``tree`` (None outside a git checkout)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    return done.stdout.strip() or None


def machine() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],  # other processes sharing the cores
            "commit": commit_of(ROOT)}


def write(name: str, payload: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": f"python benchmarks/run.py {name}", "machine": machine(), **payload}

    def relative(text: str) -> str:  # results name paths relative to the checkout, never this machine's
        return text.replace(f"{ROOT}/", "").replace(f"{ROOT.parent}/", "../")

    (RESULTS / f"{name}.json").write_text(relative(json.dumps(payload, indent=2)) + "\n")
    (RESULTS / f"{name}.md").write_text(relative(markdown))
    print(markdown)


def table_benchmark(name: str, title: str, args: list[str], target: str) -> None:
    from memnets.evaluate import markdown_table

    result, wall, peak = memnets([*args, "--data-dir", BABI, "--quiet", "--examples", "0",
                                  "--out", f"runs/bench-{name}"])
    ours = {k: result[k] for k in ("per_task", "mean_error", "failed_tasks")}
    not_run = result["tasks_not_run"]
    md = [f"# {title}\n", f"Produced by `python benchmarks/run.py {name}`, which ran:\n",
          f"    {result['command']}\n", markdown_table(ours, result["paper_column"]),
          f"\nTarget: {target}. Paper figures: Sukhbaatar et al. (2015), Table 1, column "
          f"\"{result['paper_column']}\" over the same tasks.\n",
          f"\nWall time {wall:.0f} s ({wall / 60:.1f} min) on {os.cpu_count()} CPU cores, "
          f"{result.get('processes', 1)} training process(es) at once (`--jobs`, one thread each); peak memory "
          f"{peak:.0f} MiB (the largest process); "
          f"training throughput {result['questions_per_second']:,} questions/s (all restarts, after each run's "
          f"first epoch, which includes compiling where the step is compiled).\n"]
    if not_run:
        md.append("\nNot run: " + "; ".join(f"task {t}: {why}" for t, why in not_run.items()) + "\n")
    write(name, {"results": result, "wall_seconds": round(wall, 1), "peak_memory_mib": round(peak)}, "".join(md))


def speed() -> None:
    """The main-job command and task 1 (1k, 1 and 10 restarts) with the settings before issue #10 (the step always
    compiled, PyTorch's default of one thread per core) and after (compiled only from COMPILE_FROM_STEPS steps, one
    thread), and each change alone, side by side in one run."""
    import torch

    cores = str(os.cpu_count())
    settings = [("before: compiled, all cores", ["--compile", "--threads", cores]),
                ("compiled, 1 thread, 1 process", ["--compile", "--threads", "1", "--jobs", "1"]),
                ("eager, all cores", ["--no-compile", "--threads", cores]),
                ("the defaults in 1 process (`--jobs 1`)", ["--jobs", "1"]),
                ("after: the defaults (1 thread per process, 1 process per core, compiled from 20,000 "
                 "restart-steps)", [])]
    jobs = [("main job (generated task 1)", "main", ["train"]),
            ("task 1, 1 restart", "t1-r1", ["train", "--task", "1", "--data-dir", BABI]),
            ("task 1, 10 restarts", "t1-r10", ["train", "--task", "1", "--data-dir", BABI, "--restarts", "10"])]
    rows = []
    for job, tag, args in jobs:
        for i, (label, extra) in enumerate(settings):
            out = f"runs/bench-speed-{tag}-{i}"
            quiet = ["--examples", "0", "--quiet"] if tag != "main" else []  # the main job exactly as the README runs it
            result, wall, peak = memnets([*args, *quiet, *extra, "--out", out])
            rows.append({"job": job, "settings": label, "command": result["command"], "wall_seconds": round(wall, 1),
                         "train_seconds": result["train_seconds"], "questions_per_second": result["questions_per_second"],
                         "test_error": result["mean_error"], "peak_memory_mib": round(peak)})
    md = ["# Training speed: the main job and bAbI task 1 (1k), before and after the defaults of issue #10\n\n",
          "Produced by `python benchmarks/run.py speed`, all runs in one process, one after another, on "
          f"{cores} CPU cores (PyTorch {torch.__version__}). \"Before\" is the earlier default: the training step always "
          "compiled, and PyTorch's default of one thread per core. \"After\" is the new default: compiled only from "
          "20,000 steps counted over all restarts (ten restarts of a 1k task, the joint and 10k runs), one thread, "
          "and one training process per core (`--jobs`: a run's restarts split between them from 20,000 "
          "restart-steps). "
          "Wall time is the whole `memnets` process (start-up, data, compiling, training, testing); questions/s count every training question of every restart after the first "
          "epoch. Peak memory is the largest resident size of any memnets process so far in this benchmark.\n\n",
          "| job | settings | wall time (s) | train time (s) | questions/s | test error (%) | peak memory (MiB) |\n",
          "|---|---|---:|---:|---:|---:|---:|\n"]
    for r in rows:
        md.append(f"| {r['job']} | {r['settings']} | {r['wall_seconds']} | {r['train_seconds']} | "
                  f"{r['questions_per_second']:,} | {r['test_error']} | {r['peak_memory_mib']} |\n")
    md.append("\nRatios, before / after (wall time): " + "; ".join(
        f"{job}: {before['wall_seconds'] / after['wall_seconds']:.2f}x" for job, _, _ in jobs
        for before, after in [[r for r in rows if r['job'] == job][::len(settings) - 1]]) + ".\n")
    md.append("\nCommands:\n\n" + "".join(f"    {r['command']}\n" for r in rows))
    write("speed", {"runs": rows}, "".join(md))


def main_job() -> None:
    """The README's main job (`memnets train`, its defaults) twice, each from an empty cache of compiled code,
    beside the figure of the last `speed` benchmark: how fast these cores are today, for the other benchmarks
    run on them the same day. With BEFORE_DIR (a checkout of an earlier commit, ``git worktree add DIR COMMIT``),
    that commit's main job runs before each of this checkout's, side by side."""
    earlier = json.loads((RESULTS / "speed.json").read_text())
    before = next(r for r in earlier["runs"] if r["job"].startswith("main job") and r["settings"].startswith("after"))
    before_dir = Path(os.environ["BEFORE_DIR"]) if "BEFORE_DIR" in os.environ else None
    trees = [("before", before_dir), ("today", None)] if before_dir else [("today", None)]
    commit = commit_of(before_dir) if before_dir else None
    rows = []
    for i in range(2):
        for who, tree in trees:
            result, wall, _ = memnets(["train", "--out", "runs/bench-main-job"], tree)
            rows.append({"run": f"{who}, run {i + 1}" if who == "today" else f"commit {commit}, run {i + 1}",
                         "command": result["command"], "wall_seconds": round(wall, 1),
                         "questions_per_second": result["questions_per_second"], "test_error": result["mean_error"]})
    md = ["# The README's main job, as a measure of the day's cores\n\n",
          "Produced by `python benchmarks/run.py main-job`: `memnets train` with its defaults, twice, each from an "
          "empty cache of compiled code, beside the same command's row in `docs/results/speed.md` (commit "
          f"{earlier['machine']['commit']}).\n\n",
          "| run | wall time (s) | questions/s | test error (%) |\n|---|---:|---:|---:|\n",
          f"| speed benchmark (commit {earlier['machine']['commit']}) | {before['wall_seconds']} | "
          f"{before['questions_per_second']:,} | {before['test_error']} |\n"]
    md += [f"| {r['run']} | {r['wall_seconds']} | {r['questions_per_second']:,} | {r['test_error']} |\n" for r in rows]
    today = [r["wall_seconds"] for r in rows if r["run"].startswith("today")]
    slower = min(today) / before["wall_seconds"]
    md.append(f"\nToday's faster run took {slower:.2f}x the wall time of the speed benchmark's.\n")
    side_by_side = {}
    if before_dir:
        then = [r["wall_seconds"] for r in rows if not r["run"].startswith("today")]
        side_by_side = {"before_commit": commit, "before_over_today": round(sum(then) / sum(today), 2)}
        md.append(f"\nSide by side (`BEFORE_DIR=... python benchmarks/run.py main-job`, alternately): commit {commit} "
                  f"took {sum(then):.1f} s over its runs, this checkout {sum(today):.1f} s: "
                  f"{side_by_side['before_over_today']:.2f}x.\n")
    write("main-job", {"speed_benchmark": before, "runs": rows, "wall_ratio": round(slower, 2), **side_by_side},
          "".join(md))


def encoders() -> None:
    """Profile of the memory encoder, the step's largest cost at joint vocabulary sizes: the dense product that
    memnets uses (scatter the position-encoded bags, one GEMM) against sparse paths (``embedding_bag`` with
    per-word weights, a CSR sparse-dense product, a gather and weighted sum), forward and backward, on the shapes of
    a per-task run (task 1) and of the joint run, one restart and ten side by side, one thread."""
    import statistics

    import torch
    import torch.nn.functional as F

    from memnets import experiment
    from memnets.data.tensors import vectorize
    from memnets.data.vocab import Vocab
    from memnets.models.encoders import sentence_bags

    torch.set_num_threads(1)
    settings = experiment.data_settings("babi", BABI, "en", 0, 0)

    def paths(ids, weight, v, j_size, d):  # ids (X, J); weight (2V, n*d): the encoders' [E; (k/d) E] layout
        def dense():
            return sentence_bags(ids, v, "position-released", d, j_size) @ weight

        j = torch.arange(1, ids.shape[-1] + 1, dtype=torch.float32)
        c = j - (j_size + 1) / 2
        mask = (ids != 0).to(torch.float32)
        a, g = (1 - 2 * (d + 1) * c / (d * j_size)) * mask, 4 * c / j_size * mask  # (X, J) each
        index, per_word = torch.cat([ids, ids + v], -1), torch.cat([a, g], -1)  # (X, 2J)

        def bag():
            return F.embedding_bag(index, weight, per_sample_weights=per_word, mode="sum")

        def csr():
            rows = torch.arange(ids.shape[0]).repeat_interleave(index.shape[1])
            x = torch.sparse_coo_tensor(torch.stack([rows, index.reshape(-1)]), per_word.reshape(-1),
                                        (ids.shape[0], 2 * v)).coalesce().to_sparse_csr()
            return torch.sparse.mm(x, weight)

        def gather():
            return (F.embedding(index, weight) * per_word.unsqueeze(-1)).sum(-2)

        return {"dense GEMM (memnets)": dense, "embedding_bag": bag, "sparse CSR": csr, "gather + sum": gather}

    rows = []
    for label, tasks, joint in (("task 1 (per task)", [1], False), ("joint (20 tasks)", list(range(1, 21)), True)):
        splits = experiment.read_data(settings, tasks, 0.1)
        vocab = Vocab.build(splits["train"] + splits["valid"])
        cfg, _ = experiment.configs("memn2n", joint, {}, {}, len(vocab))
        cfg = experiment.fit_to_data(cfg, splits["train"])
        data = vectorize(splits["train"], vocab, cfg.memory_size)
        ids = data.story[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:32]].flatten(0, 1)
        n, v, d = cfg.hops + 1, len(vocab), cfg.embed_dim
        words = (ids != 0).sum(-1).float()  # (X,) words per memory row
        nonzero, nonzero_filled = float(words.mean() * 2), float(words[words > 0].mean() * 2)
        for restarts in (1, 10):
            weights = [torch.randn(2 * v, n * d, requires_grad=True) for _ in range(restarts)]
            for name in paths(ids, weights[0], v, cfg.sentence_size, d):
                encoders = [(paths(ids, w, v, cfg.sentence_size, d)[name], w) for w in weights]

                def step():
                    for encode, w in encoders:  # one restart after another: the work that vmap batches
                        torch.autograd.grad(encode().pow(2).sum(), [w])
                for _ in range(3):
                    step()
                times = []
                for _ in range(7):
                    begin = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - begin)
                rows.append({"shape": label, "vocabulary": v, "features": 2 * v, "nonzeros_per_row": round(nonzero, 1),
                             "nonzeros_per_filled_row": round(nonzero_filled, 1),
                             "rows": ids.shape[0], "restarts": restarts, "path": name,
                             "ms_per_step": round(1000 * statistics.median(times), 2)})
    md = ["# Memory encoder: dense product against sparse paths\n\n",
          "Produced by `python benchmarks/run.py encoders`: forward and backward of the memory encoding of one batch "
          "(32 stories x the memory slots, the released position encoding, all K + 1 matrices in one weight), "
          "median of 7, one thread, on the real bAbI 1k shapes. Restarts run one after another here. Load average "
          f"(other processes on the same cores) at the start: {os.getloadavg()[0]:.2f}.\n\n",
          "| shape | vocabulary | features per row | non-zeros per row (all / filled slots) | rows | restarts | path | ms per step |\n",
          "|---|---:|---:|---:|---:|---:|---|---:|\n"]
    for r in rows:
        md.append(f"| {r['shape']} | {r['vocabulary']} | {r['features']} | {r['nonzeros_per_row']} / "
                  f"{r['nonzeros_per_filled_row']} | {r['rows']} | "
                  f"{r['restarts']} | {r['path']} | {r['ms_per_step']} |\n")
    write("encoders", {"rows": rows}, "".join(md))


def joint_step() -> None:
    """The End-To-End training step (forward, backward, clipped SGD update) on the joint model's real batches, with
    only the filled memory slots encoded (``rows``, the default) and with every slot encoded (the earlier path),
    eager and compiled, one restart and ten, side by side in one process, one thread."""
    import torch
    from torch.func import functional_call, vmap

    from memnets import experiment
    from memnets.data.tensors import vectorize
    from memnets.data.vocab import Vocab
    from memnets.models import MODELS
    from memnets.train import clip_and_step, noisy_time

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    splits = experiment.read_data(experiment.data_settings("babi", BABI, "en", 0, 0), list(range(1, 21)), 0.1)
    vocab = Vocab.build(splits["train"] + splits["valid"])
    cfg = experiment.fit_to_data(experiment.configs("memn2n", True, {}, {}, len(vocab))[0], splits["train"])
    data = vectorize(splits["train"], vocab, cfg.memory_size)
    model_cls = MODELS["memn2n"][1]
    rows, steps = [], int(os.environ.get("JOINT_STEPS", "100"))
    for restarts in (1, 10):
        for compiled in (False, True):
            for packed in (True, False):
                torch.manual_seed(0)
                generator = torch.Generator().manual_seed(0)
                models = [model_cls(cfg) for _ in range(restarts)]
                params = [torch.stack([dict(m.named_parameters())[k].detach() for m in models]).requires_grad_()
                          for k, _ in models[0].named_parameters()]
                names = [k for k, _ in models[0].named_parameters()]
                skeleton = models[0].to("meta")

                def loss_of(p, batch, linear):
                    out = functional_call(skeleton, dict(zip(names, p)), (), skeleton.inputs(batch, linear, True))
                    return skeleton.loss(out, batch)[0]

                def step_loss(p, batch, linear):
                    return vmap(loss_of)(p, batch, linear).sum()

                torch._dynamo.reset()
                step = torch.compile(step_loss) if compiled else step_loss
                linear = torch.zeros(restarts, dtype=torch.bool)
                order = torch.rand(restarts, len(data), generator=generator).argsort(-1)

                def run(i):
                    batch = data.tensors(order[:, i * 32:(i + 1) * 32])
                    batch["time"] = noisy_time(batch["time"], 0.1, generator)
                    if not packed:
                        del batch["rows"]
                    loss = step(params, batch, linear)
                    clip_and_step(params, torch.autograd.grad(loss, params), 0.01, 40.0)
                    return loss.item()

                begin = time.perf_counter()
                for i in range(steps):  # warm-up: every row count that compiles a shape
                    run(i)
                warm = time.perf_counter() - begin
                begin = time.perf_counter()
                for i in range(steps, 2 * steps):
                    run(i)
                ms = (time.perf_counter() - begin) / steps * 1000
                rows.append({"restarts": restarts, "compiled": compiled,
                             "path": "filled slots only (rows)" if packed else "every slot",
                             "warm_up_seconds": round(warm, 1), "ms_per_step": round(ms, 2),
                             "questions_per_second": round(restarts * 32 / ms * 1000)})
                print(rows[-1], flush=True)
    md = ["# The End-To-End training step on the joint model's batches: filled slots only against every slot\n\n",
          "Produced by `python benchmarks/run.py joint-step`: forward, backward and the clipped SGD update of the "
          f"joint model (bAbI 1k, 20 tasks, d = 50, 50 slots, batches of 32), {steps} steps timed after {steps} "
          "steps of warm-up (which compile each row count that occurs), one thread, side by side in one process. "
          "\"Every slot\" is the encoder before this change (the batch without ``rows``). Load average at the "
          f"start: {os.getloadavg()[0]:.2f}.\n\n",
          "| restarts | step | memory encoded | ms per step | questions/s | warm-up (s) |\n|---:|---|---|---:|---:|---:|\n"]
    for r in rows:
        md.append(f"| {r['restarts']} | {'compiled' if r['compiled'] else 'eager'} | {r['path']} | "
                  f"{r['ms_per_step']} | {r['questions_per_second']:,} | {r['warm_up_seconds']} |\n")
    md.append("\nRatios, every slot / filled slots only (ms per step): " + "; ".join(
        f"{a['restarts']} restart(s) {'compiled' if a['compiled'] else 'eager'}: "
        f"{b['ms_per_step'] / a['ms_per_step']:.2f}x" for a, b in zip(rows[::2], rows[1::2])) + ".\n")
    write("joint-step", {"rows": rows}, "".join(md))


def words(folder: str | Path, task: int, split: str) -> set[str]:
    from memnets.data.babi import read_split, tokenize

    records = read_split(folder, task, split)
    answers = {a for r in records for a in r.answer.split(",")}  # task 8 answers list objects: "football,apple"
    return {w for r in records for s in (*r.story, r.question) for w in tokenize(s)} | answers


def transfer() -> None:
    """Issue 3's faithfulness test: the babi1k configuration trained on 1,000 generated questions per task, tested
    on the real test sets, beside the same configuration trained on the real 1k training sets (the babi1k run)."""
    from memnets.data.generator import generate_task, write_tasks

    real = json.loads((RESULTS / "babi1k.json").read_text())["results"]
    run = "runs/bench-transfer"
    trained, train_wall, peak = memnets(["train", "--task", "all", "--restarts", "10", "--encoding",
                                         "position-released", "--quiet", "--examples", "0", "--out", run])
    eval_args = ["eval", run, "--data-dir", BABI, "--variant", "en", "--out", f"{run}/eval-real.json"]
    print("$ memnets " + shlex.join(eval_args), flush=True)
    subprocess.run([sys.executable, "-m", "memnets.cli", *eval_args], check=True, cwd=ROOT)
    on_real = json.loads((ROOT / run / "eval-real.json").read_text())

    started = time.perf_counter()
    for task in range(1, 21):
        generate_task(task, 10_000, 0, "train")
    generation_seconds = time.perf_counter() - started

    folder = ROOT / run / "generated-data"
    write_tasks(folder, list(range(1, 21)), 1000, 0)
    rows = []
    for task in range(1, 21):
        acc_real = 100 - real["per_task"][str(task)]
        acc_gen = 100 - on_real["per_task"][str(task)]
        rows.append({"task": task, "accuracy_trained_on_real": round(acc_real, 1),
                     "accuracy_trained_on_generated": round(acc_gen, 1), "difference": round(acc_gen - acc_real, 1),
                     "within_3_points": acc_gen >= acc_real - 3,
                     "real_test_words_missing": sorted(words(BABI, task, "test") - words(folder, task, "train"))})
    short = [r["task"] for r in rows if not r["within_3_points"]]
    md = ["# Faithfulness of the generated bAbI tasks\n\n",
          "Produced by `python benchmarks/run.py transfer`. The same End-To-End Memory Network configuration as "
          "`babi1k` (PE LS RN with the released position encoding, 3 hops, d = 20, best of 10 restarts by "
          "validation) is trained on 1,000 generated questions per task (seed 0; the last 10% held out for "
          "validation) and on the real 1k training set (the `babi1k` run), and both are tested on the "
          "real bAbI v1.2 test set. Commands:\n\n",
          f"    {trained['command']}\n    memnets {shlex.join(eval_args)}\n\n",
          "| task | accuracy, trained on real (%) | accuracy, trained on generated (%) | difference | "
          "real test words missing from the generated training data |\n|---:|---:|---:|---:|---|\n"]
    for r in rows:
        md.append(f"| {r['task']} | {r['accuracy_trained_on_real']:.1f} | {r['accuracy_trained_on_generated']:.1f} | "
                  f"{r['difference']:+.1f} | {', '.join(r['real_test_words_missing']) or 'none'} |\n")
    md.append(f"\nTarget: trained on generated data, within 3 points of trained on real data (or better), on every "
              f"task. Met on {20 - len(short)} of 20 tasks"
              + (f"; short on task(s) {', '.join(map(str, short))}.\n" if short else ".\n"))
    md.append(f"\nGenerator speed: 10,000 questions of every task (200,000 questions) in {generation_seconds:.1f} s "
              f"(target: under 60 s). Training on the generated data took {train_wall:.0f} s.\n")
    write("transfer", {"rows": rows, "generation_seconds_200k": round(generation_seconds, 2),
                       "trained_on_generated": trained, "tested_on_real": on_real, "peak_memory_mib": round(peak)},
          "".join(md))


def real_slices(task: int, count: int, questions: int = 1000) -> list[Path]:
    """``count`` disjoint samples of ``questions`` real training questions of ``task`` (whole stories, in the
    order of the 10k training file, the last story cut after its last question that fits), each written with the
    real 1k test file into runs/bench-transfer-spread/real-K/en, a folder ``memnets train --data-dir`` reads."""
    source = Path(ROOT, BABI)
    train = next((source / "en-10k").glob(f"qa{task}_*_train.txt"))
    test = next((source / "en").glob(f"qa{task}_*_test.txt"))
    stories, current = [], []
    for line in train.read_text().splitlines(keepends=True):
        if line.split(" ", 1)[0] == "1" and current:
            stories.append(current)
            current = []
        current.append(line)
    stories.append(current)
    folders, story = [], 0
    for k in range(count):
        kept, asked = [], 0
        while asked < questions and story < len(stories):
            lines = stories[story]
            story += 1
            for i, line in enumerate(lines):
                asked += "\t" in line  # a question line holds the answer after a tab
                if asked == questions:
                    lines = lines[:i + 1]
                    break
            kept += lines
        if asked < questions:
            raise SystemExit(f"{train.name}: fewer than {count} samples of {questions} questions")
        folder = ROOT / f"runs/bench-transfer-spread/real-{k}"
        (folder / "en").mkdir(parents=True, exist_ok=True)
        (folder / "en" / train.name).write_text("".join(kept))
        (folder / "en" / test.name).write_text(test.read_text())
        folders.append(folder)
    return folders


def transfer_spread() -> None:
    """How far one sample of 1,000 training questions moves the transfer figure: the transfer benchmark's
    configuration trained on TRANSFER_SAMPLES (default 3) disjoint 1,000-question samples of the real 10k
    training set and on as many generator seeds, each tested on the real 1k test set, for TRANSFER_TASKS
    (default 7,8: the tasks the transfer benchmark found short)."""
    tasks = [int(t) for t in os.environ.get("TRANSFER_TASKS", "7,8").split(",")]
    samples = int(os.environ.get("TRANSFER_SAMPLES", "3"))
    base = ["train", "--restarts", "10", "--encoding", "position-released", "--quiet", "--examples", "0"]
    rows, commands = [], []
    for task in tasks:
        real, generated = [], []
        for k, folder in enumerate(real_slices(task, samples)):
            out = f"runs/bench-transfer-spread/t{task}-real-{k}"
            result, _, _ = memnets([*base, "--task", str(task), "--data-dir", str(folder.relative_to(ROOT)),
                                    "--out", out])
            real.append(round(100 - result["per_task"][str(task)], 1))
            commands.append(result["command"])
        for seed in range(samples):
            out = f"runs/bench-transfer-spread/t{task}-gen-{seed}"
            result, _, _ = memnets([*base, "--task", str(task), "--data-seed", str(seed), "--out", out])
            eval_args = ["eval", out, "--data-dir", BABI, "--variant", "en", "--out", f"{out}/eval-real.json"]
            subprocess.run([sys.executable, "-m", "memnets.cli", *eval_args], check=True, cwd=ROOT,
                           capture_output=True)
            on_real = json.loads((ROOT / out / "eval-real.json").read_text())
            generated.append(round(100 - on_real["per_task"][str(task)], 1))
            commands += [result["command"], "memnets " + shlex.join(eval_args)]
        mean_real, mean_gen = sum(real) / samples, sum(generated) / samples
        rows.append({"task": task, "real_samples": real, "generated_seeds": generated,
                     "mean_real": round(mean_real, 1), "mean_generated": round(mean_gen, 1),
                     "difference_of_means": round(mean_gen - mean_real, 1),
                     "real_range": [min(real), max(real)]})
    md = ["# Transfer, beside the spread of real samples\n",
          "Produced by `python benchmarks/run.py transfer-spread`. The transfer benchmark's configuration (PE LS RN, "
          "released position encoding, best of 10 restarts) trained on disjoint samples of 1,000 real training "
          "questions (whole stories of the 10k training file, in order) and on 1,000 generated questions of as "
          "many generator seeds; every model tested on the real 1k test set. Accuracy (%).\n",
          "| task | real samples | mean | generated seeds 0.. | mean | difference of means |",
          "|---:|---|---:|---|---:|---:|"]
    md += [f"| {r['task']} | {', '.join(f'{a:.1f}' for a in r['real_samples'])} | {r['mean_real']:.1f} | "
           f"{', '.join(f'{a:.1f}' for a in r['generated_seeds'])} | {r['mean_generated']:.1f} | "
           f"{r['difference_of_means']:+.1f} |" for r in rows]
    md += ["", "Target (issue #10): generated within 3 points of real. With one sample of each, as `transfer` "
           "measures, the figure moves by the spread shown here.", "", "Commands:\n"]
    md += [f"    {c}" for c in commands]
    write("transfer-spread", {"rows": rows, "commands": commands, "samples": samples}, "\n".join(md) + "\n")


def memnn_table(name: str, variant: str, beside: str, restarts: str, options: tuple[str, ...] = ()) -> None:
    """MemNN per task (strongly supervised) beside the End-To-End run ``beside`` and the paper's MemNN column."""
    args = ["train", "--model", "memnn", "--task", "all", "--variant", variant, "--restarts", restarts, *options,
            "--data-dir", BABI, "--quiet", "--examples", "0", "--out", f"runs/bench-{name}"]
    result, wall, peak = memnets(args)
    end_to_end = json.loads((RESULTS / f"{beside}.json").read_text())["results"]
    column = result["paper_column"]
    from memnets.evaluate import PAPER, summarize

    tasks = [int(t) for t in result["per_task"]]
    support = {t: v for run in result["runs"].values() for t, v in run.get("supporting_fact_accuracy", {}).items()}
    e2e = {t: end_to_end["per_task"].get(str(t)) for t in tasks}
    e2e_summary = summarize({t: e for t, e in e2e.items() if e is not None})
    paper = summarize({t: PAPER[column][t - 1] for t in tasks}) if column else None
    variant_name = "AM+NL, no N-grams" if "--no-ngrams" in options else "AM+NG+NL"
    md = [f"# MemNN ({variant_name}, strongly supervised), bAbI {variant}, one model per task\n\n",
          f"Produced by `python benchmarks/run.py {name}`, which ran:\n\n    {result['command']}\n\n",
          "Test error (%) per task; \"supporting facts found\" is the share of test questions whose lookups found "
          "every annotated supporting fact, in order, without being given them. The End-To-End column is the "
          f"`{beside}` benchmark (docs/results/{beside}.json), trained without the supporting facts.\n\n",
          "| task | MemNN, ours | supporting facts found (%) | End-To-End, ours |"
          + (f" paper ({column}) |" if paper else "") + "\n|---:|---:|---:|---:|" + ("---:|" if paper else "") + "\n"]
    for t in tasks:
        row = (f"| {t} | {result['per_task'][str(t)]:.1f} | {support.get(str(t), float('nan')):.1f} | "
               + (f"{e2e[t]:.1f}" if e2e[t] is not None else "-") + " |")
        md.append(row + (f" {PAPER[column][t - 1]:.1f} |" if paper else "") + "\n")
    md.append(f"| **mean error (%)** | **{result['mean_error']:.1f}** | | {e2e_summary['mean_error']:.1f} |"
              + (f" {paper['mean_error']:.1f} |" if paper else "") + "\n")
    md.append(f"| **failed tasks (> 5%)** | **{result['failed_tasks']}** | | {e2e_summary['failed_tasks']} |"
              + (f" {paper['failed_tasks']} |" if paper else "") + "\n")
    if paper:
        md.append(f"\nTarget: mean error at most {paper['mean_error']:.1f}% (Weston et al. 2015, Table 3; the MemNN "
                  "column of Sukhbaatar et al. 2015, Table 1).\n")
    md.append(f"\nWall time {wall:.0f} s ({wall / 60:.1f} min) on {os.cpu_count()} CPU cores; peak memory {peak:.0f} MiB; "
              f"training throughput {result['questions_per_second']:,} questions/s (all restarts, after each run's "
              f"first epoch).\n")
    if result["tasks_not_run"]:
        md.append("\nNot run: " + "; ".join(f"task {t}: {why}" for t, why in result["tasks_not_run"].items()) + "\n")
    write(name, {"results": result, "beside": beside, "wall_seconds": round(wall, 1), "peak_memory_mib": round(peak)},
              "".join(md))


def memnn_speed() -> None:
    """Training questions/s of MemNN and of the End-To-End model on real task 1 (1k), each one run, side by side."""
    rows = []
    for model in ("memn2n", "memnn"):
        args = ["train", "--model", model, "--task", "1", "--data-dir", BABI, "--quiet", "--examples", "0",
                "--out", f"runs/bench-memnn-speed-{model}"]
        result, wall, peak = memnets(args)
        rows.append({"model": model, "command": result["command"], "epochs": result["train_config"]["epochs"]
                     + (result["train_config"]["ls_epochs"] if result["train_config"]["linear_start"] else 0),
                     "questions_per_second": result["questions_per_second"], "wall_seconds": round(wall, 1),
                     "train_seconds": result["train_seconds"], "test_error": result["mean_error"]})
    ratio = rows[1]["questions_per_second"] / rows[0]["questions_per_second"]
    md = ["# Training speed: MemNN beside the End-To-End model, bAbI task 1 (1k), one run each\n\n",
          "Produced by `python benchmarks/run.py memnn-speed`. Questions per second count every training question "
          "after the first epoch (which includes compiling the step); each model with its paper's defaults.\n\n",
          "| model | epochs (incl. linear start) | questions/s | wall time (s) | test error (%) |\n"
          "|---|---:|---:|---:|---:|\n"]
    for r in rows:
        md.append(f"| {r['model']} | {r['epochs']} | {r['questions_per_second']:,} | {r['wall_seconds']} | "
                  f"{r['test_error']} |\n")
    md.append(f"\nMemNN trains at {ratio:.2f}x the End-To-End model's questions/s in the same run of this benchmark.\n")
    md.append("\nCommands:\n\n" + "".join(f"    {r['command']}\n" for r in rows))
    write("memnn-speed", {"runs": rows, "ratio_memnn_to_memn2n": round(ratio, 3)}, "".join(md))


def memnn_hashing() -> None:
    """MemNN's memory hashing (Weston et al. 2014 §3.3) on stories of 100,000 sentences: a model trained on
    generated task 1 (the default data) writes every sentence into a WrittenMemory as it comes and answers each
    question when it is asked, with no hashing, word buckets and embedding-cluster buckets, in one run."""
    import statistics

    import torch

    from memnets import checkpoint
    from memnets.data.babi import tokenize
    from memnets.data.generator import generate_task
    from memnets.data.generator.common import Knobs
    from memnets.models.memnn import WrittenMemory

    trained, _, _ = memnets(["train", "--model", "memnn", "--task", "1", "--quiet", "--examples", "0",
                             "--out", "runs/bench-memnn-hashing"])
    model, vocab, _ = checkpoint.load_model(ROOT / "runs/bench-memnn-hashing/task01/checkpoint.safetensors")
    length, stories = 100_000, 4
    started = time.perf_counter()
    generated = generate_task(1, 5 * stories, 7, "test", Knobs(story_length=length))
    generation = time.perf_counter() - started
    modes = ("none", "word", "cluster")
    found = {m: {"right": 0, "support": 0, "seconds": [], "scored": []} for m in modes}
    memory_sizes, write_seconds = [], 0.0
    torch.set_num_threads(1)  # one query at a time: the times compare the work, not the threading
    for story in generated:
        memories = {m: WrittenMemory(model, m, clusters=10) for m in modes}
        pending, slot_of_line = [], {}
        for number, line in enumerate(story, start=1):
            if line.answer is None:
                slot_of_line[number] = len(slot_of_line)
                pending.append(vocab.encode(tokenize(line.text)))
                continue
            begin = time.perf_counter()
            for memory in memories.values():
                memory.write(pending)
            write_seconds += time.perf_counter() - begin
            pending = []
            memory_sizes.append(len(memories["none"]))
            query = vocab.encode(tokenize(line.text))
            gold = [slot_of_line[s] for s in line.supports]
            for mode, memory in memories.items():
                times = []
                for _ in range(3):  # the median of three, as one shared CPU is noisy
                    begin = time.perf_counter()
                    answer, chosen, scored = memory.answer(query)
                    times.append(time.perf_counter() - begin)
                found[mode]["seconds"].append(statistics.median(times))
                found[mode]["scored"].append(scored)
                found[mode]["right"] += vocab.words[answer] == line.answer
                found[mode]["support"] += chosen[:len(gold)] == gold
    n = len(memory_sizes)
    base = statistics.mean(found["none"]["seconds"])
    rows = [{"hashing": m, "questions": n, "accuracy": round(100 * f["right"] / n, 1),
             "supporting_fact_found": round(100 * f["support"] / n, 1),
             "mean_query_ms": round(1000 * statistics.mean(f["seconds"]), 2),
             "median_query_ms": round(1000 * statistics.median(f["seconds"]), 2),
             "speedup_vs_none": round(base / statistics.mean(f["seconds"]), 2),
             "mean_memories_scored": round(statistics.mean(f["scored"]))} for m, f in found.items()]
    md = ["# MemNN memory hashing on 100,000-sentence stories\n\n",
          "Produced by `python benchmarks/run.py memnn-hashing`. A MemNN (AM+NG+NL) trained on generated bAbI task 1 "
          f"(`{trained['command']}`) reads {stories} generated task-1 stories of {length:,} statements each "
          "(`generate_task(1, ..., Knobs(story_length=100000))`, 5 questions per story at evenly spaced points). "
          "Every statement is written into the memory as it comes (G); each question is answered when it is asked, "
          "over everything written so far, by the same trained model with each hashing, in one run (query time: the "
          "median of three answers; keeping the hash index up to date is part of writing). One CPU thread. "
          "\"Memories scored\" counts s_O evaluations over all lookups of a question.\n\n",
          f"Memory size at the questions: {min(memory_sizes):,} to {max(memory_sizes):,} sentences "
          f"(mean {statistics.mean(memory_sizes):,.0f}).\n\n",
          "| hashing | questions | accuracy (%) | supporting fact found (%) | mean query (ms) | median query (ms) | "
          "speed-up vs none | memories scored per question |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"]
    for r in rows:
        md.append(f"| {r['hashing']} | {r['questions']} | {r['accuracy']} | {r['supporting_fact_found']} | "
                  f"{r['mean_query_ms']} | {r['median_query_ms']} | {r['speedup_vs_none']}x | "
                  f"{r['mean_memories_scored']:,} |\n")
    md.append(f"\nGenerating the stories took {generation:.1f} s; writing them into the three memories "
              f"{write_seconds:.1f} s.\n")
    write("memnn-hashing", {"rows": rows, "memory_sizes": memory_sizes, "trained": trained,
                            "generation_seconds": round(generation, 1), "write_seconds": round(write_seconds, 1)},
          "".join(md))


def task16() -> None:
    """Why the joint model fails bAbI task 16 (basic induction), which per-task training solves: task 16 trained
    alone (10 restarts, the defaults) under each of the joint model's settings in turn: its 50 memory slots (task
    16's stories fill at most 9), its sentence length J (the released position encoding's; 12 over all tasks, 5 in
    task 16), and its d = 50 with the joint schedule (60 epochs after a linear start of up to 30, halved every 15);
    then all three at once. One process, one thread, eager; the restarts' validation errors show how many learn it."""
    import dataclasses

    import torch

    from memnets import experiment
    from memnets.data.tensors import vectorize
    from memnets.data.vocab import Vocab
    from memnets.evaluate import task_errors
    from memnets.train import train

    torch.set_num_threads(1)
    settings = experiment.data_settings("babi", BABI, "en", 0, 0)
    joint = experiment.read_data(settings, list(range(1, 21)), 0.1)
    joint_model, joint_train = experiment.configs("memn2n", True, {}, {})
    joint_cfg = experiment.fit_to_data(joint_model, joint["train"])
    splits = experiment.read_data(settings, [16], 0.1)
    vocab = Vocab.build(splits["train"] + splits["valid"])
    model_cfg, train_cfg = experiment.configs("memn2n", False, {}, {"restarts": 10, "compile": False}, len(vocab))
    model_cfg = experiment.fit_to_data(model_cfg, splits["train"])
    schedule = {f: getattr(joint_train, f) for f in ("epochs", "anneal_every", "ls_epochs")}
    variants = {"per-task defaults": ({}, {}), "50 memory slots": ({"memory_size": joint_cfg.memory_size}, {}),
                f"J = {joint_cfg.sentence_size}": ({"sentence_size": joint_cfg.sentence_size}, {}),
                "d = 50, joint schedule": ({"embed_dim": joint_cfg.embed_dim}, schedule)}
    variants["all three"] = ({k: v for m, _ in list(variants.values())[1:] for k, v in m.items()}, schedule)
    rows = []
    for name, (model_change, train_change) in variants.items():
        cfg = dataclasses.replace(model_cfg, **model_change)
        data = {k: vectorize(v, vocab, cfg.memory_size) for k, v in splits.items()}
        started = time.perf_counter()
        result = train("memn2n", cfg, data["train"], data["valid"], dataclasses.replace(train_cfg, **train_change),
                       vocab, {"source": "babi"}, progress=False)
        error = task_errors(result.model, data["test"])[16]
        learned = sum(e <= 5 for e in result.valid_error)
        rows.append({"variant": name, "memory_size": cfg.memory_size, "sentence_size": cfg.sentence_size,
                     "embed_dim": cfg.embed_dim, **train_change, "test_error": round(error, 1),
                     "valid_error": [round(e, 1) for e in result.valid_error], "restarts_learned": learned,
                     "seconds": round(time.perf_counter() - started, 1)})
        print(rows[-1], flush=True)
    md = ["# bAbI task 16 alone under the joint model's settings\n\n",
          "Produced by `python benchmarks/run.py task16`: task 16 (1k) trained alone with the defaults (10 restarts, "
          "best by validation, eager, one thread), changing one of the joint model's settings at a time, then all "
          "three. \"Learned\" counts the restarts with at most 5% validation error.\n\n",
          "| variant | memory slots | J | d | test error (%) | restarts learned (of 10) | seconds |\n",
          "|---|---:|---:|---:|---:|---:|---:|\n"]
    md += [f"| {r['variant']} | {r['memory_size']} | {r['sentence_size']} | {r['embed_dim']} | {r['test_error']} | "
           f"{r['restarts_learned']} | {r['seconds']} |\n" for r in rows]
    write("task16", {"rows": rows}, "".join(md))


def joint_subsets() -> None:
    """The joint model (its defaults, 10 restarts) on subsets of the 20 tasks that hold task 16: which of the other
    tasks, trained together with it, keep it from being learned (the 20-task joint model fails it)."""
    rows = []
    for tasks in ("15,16", "1-5,16", "6-10,16", "11-20"):
        result, wall, _ = memnets(["train", "--task", tasks, "--joint", "--restarts", "10", "--data-dir", BABI,
                                   "--quiet", "--examples", "0", "--out", f"runs/bench-joint-subsets-{tasks}"])
        rows.append({"tasks": tasks, "task16_error": round(result["per_task"]["16"], 1),
                     "mean_error": round(result["mean_error"], 1), "wall_seconds": round(wall, 1),
                     "command": result["command"], "per_task": result["per_task"]})
    full = json.loads((RESULTS / "joint.json").read_text())["results"]
    md = ["# The joint model on subsets of the tasks that hold task 16\n\n",
          "Produced by `python benchmarks/run.py joint-subsets`: the joint model with its defaults (d = 50, 60 epochs "
          "after linear start, best of 10 restarts by validation error) trained on each subset, tested on the same "
          "tasks. The last row is the 20-task run of `docs/results/joint.md`.\n\n",
          "| tasks trained together | task 16 test error (%) | mean test error (%) | wall time (s) |\n",
          "|---|---:|---:|---:|\n"]
    md += [f"| {r['tasks']} | {r['task16_error']} | {r['mean_error']} | {r['wall_seconds']:.0f} |\n" for r in rows]
    md.append(f"| all 20 (`joint`) | {full['per_task']['16']:.1f} | {full['mean_error']:.1f} | "
              f"{full['wall_seconds']:.0f} |\n\nCommands:\n\n")
    md += [f"    {r['command']}\n" for r in rows]
    write("joint-subsets", {"rows": rows}, "".join(md))


def restart_errors(run_dir: Path) -> list[dict]:
    """Every restart of a finished joint run tested on its test set, per task: the best restart is all that
    results.json reports, and task 16 is learned by some restarts and not others. Each restart's weights are read
    from the run's last checkpoint (``last.safetensors``, one per process's group of restarts)."""
    from memnets import checkpoint, evaluate, experiment
    from memnets.data.tensors import vectorize
    from memnets.models import MODELS
    from memnets.train import LAST

    model, vocab, meta = checkpoint.load_model(run_dir / "checkpoint.safetensors")
    test = vectorize(experiment.read_data(meta["data"], meta["data"]["tasks"], 0.1)["test"], vocab,
                     model.config.memory_size)
    rows = []
    for last in sorted(run_dir.glob(f"**/{LAST}")):
        tensors, state_meta = checkpoint.load(last)
        first = (state_meta.get("restarts") or [0])[0]
        history = state_meta["state"]["history"]
        params = {k.removeprefix("param."): v for k, v in tensors.items() if k.startswith("param.")}
        for i in range(next(iter(params.values())).shape[0]):
            one = MODELS["memn2n"][1](model.config)
            one.load_state_dict({k: v[i] for k, v in params.items()})
            errors = evaluate.task_errors(one.eval(), test)
            ended = next((h["epoch"] for h in history if not h["linear"][i]), None)  # first epoch with softmax
            rows.append({"restart": first + i, "valid_error": round(history[-1]["valid_error"][i], 2),
                         "linear_until_epoch": ended, "task16_error": round(errors[16], 1),
                         "mean_error": round(sum(errors.values()) / len(errors), 2),
                         "per_task": {str(t): round(e, 1) for t, e in errors.items()}})
    return sorted(rows, key=lambda r: r["restart"])


def learned_task16(rows: list[dict]) -> int:
    """How many of ``restart_errors``' restarts learned task 16 (at most 5% test error, bAbI's pass mark)."""
    return sum(r["task16_error"] <= 5 for r in rows)


def restart_table(rows: list[dict]) -> list[str]:
    """The markdown table of ``restart_errors``' rows."""
    return ["| restart | validation error (%) | softmax back from epoch | task 16 test error (%) | "
            "mean test error (%) |\n|---:|---:|---:|---:|---:|\n"] + [
        f"| {r['restart']} | {r['valid_error']:.2f} | {r['linear_until_epoch']} | {r['task16_error']:.1f} | "
        f"{r['mean_error']:.2f} |\n" for r in rows]


def joint_ls() -> None:
    """The joint model's linear start two ways, 4 restarts each, every restart tested: ended once the validation
    loss stops falling for 5 epochs (the per-task rule, the joint default before) or run for all its 30 epochs (the
    authors' code, the joint default now). What counts is how many restarts learn task 16."""
    variants, md = [], ["# The joint model's linear start: ended early, or all 30 epochs\n\n",
                        "Produced by `python benchmarks/run.py joint-ls`: the joint model with its defaults "
                        "(d = 50, 60 epochs after a linear start of 30, best by validation error), 4 restarts "
                        "from seed 1 (the `joint` benchmark's are from seed 0), with linear start ended for each "
                        "restart after 5 epochs without a better validation loss, then with the whole 30 epochs "
                        "linear; every restart tested on the 1k test set.\n\n"]
    for patience in ("5", "30"):
        out = f"runs/bench-joint-ls-{patience}"
        result, wall, _ = memnets(["train", "--task", "all", "--joint", "--restarts", "4", "--seed", "1",
                                   "--ls-patience", patience, "--data-dir", BABI, "--quiet", "--examples", "0",
                                   "--out", out])
        rows = restart_errors(ROOT / out)
        learned = learned_task16(rows)
        variants.append({"ls_patience": int(patience), "command": result["command"], "wall_seconds": round(wall, 1),
                         "best_restart": result["runs"][Path(out).name]["best_restart"],
                         "best_mean_error": result["mean_error"], "learned_task16": learned, "restarts": rows})
        md += [f"## `--ls-patience {patience}`\n\n    {result['command']}\n\n",
               f"Task 16 learned (at most 5% test error) by {learned} of {len(rows)} restarts; the best by validation "
               f"(restart {variants[-1]['best_restart']}) gives {result['mean_error']:.2f}% mean test error. "
               f"Wall time {wall:.0f} s.\n\n", *restart_table(rows), "\n"]
    write("joint-ls", {"variants": variants}, "".join(md))


def joint_restarts() -> None:
    """Every restart of the `joint` benchmark's run (runs/bench-joint) tested per task; trains nothing."""
    rows = restart_errors(ROOT / "runs" / "bench-joint")
    run = json.loads((RESULTS / "joint.json").read_text())
    learned = learned_task16(rows)
    md = ["# Every restart of the joint benchmark's run, tested\n\n",
          "Produced by `python benchmarks/run.py joint-restarts` from the run directory of `python benchmarks/run.py "
          f"joint` (commit {run['machine']['commit']}), which ran:\n\n    {run['results']['command']}\n\n",
          f"Task 16 learned (at most 5% test error) by {learned} of {len(rows)} restarts.\n\n", *restart_table(rows)]
    write("joint-restarts", {"joint_commit": run["machine"]["commit"], "learned_task16": learned, "restarts": rows},
          "".join(md))


def split() -> None:
    """Ten restarts of task 1 (1k) in one process against split between two (``--jobs 2`` with the threshold
    ``SPLIT_FROM_STEPS`` lifted for this run), alternately, twice each, in this process: the measurement behind
    that threshold. Each run is timed from the call to its end (data, spawning, compiling, training, testing)."""
    import torch

    from memnets import experiment
    from memnets import train as loop

    torch.set_num_threads(1)
    threshold, rows = loop.SPLIT_FROM_STEPS, []
    for attempt in range(2):
        for label, lifted in (("one process", False), ("split between 2 processes", True)):
            loop.SPLIT_FROM_STEPS = 0 if lifted else threshold
            exp = experiment.Experiment(
                model="memn2n", tasks=[1], joint=False,
                data=experiment.data_settings("babi", BABI, "en", 0, 0), model_options={},
                train_options={"restarts": 10}, run_dir=Path(f"runs/bench-split-{int(lifted)}"), progress=False,
                jobs=2)
            begin = time.perf_counter()
            result = experiment.run(exp, log=lambda line: None, overwrite=True)
            rows.append({"attempt": attempt + 1, "settings": label, "wall_seconds": round(time.perf_counter() - begin, 1),
                         "processes": result["processes"], "test_error": result["mean_error"]})
            print(rows[-1], flush=True)
    loop.SPLIT_FROM_STEPS = threshold
    md = ["# Ten restarts of task 1 (1k): one process against split between two\n\n",
          "Produced by `python benchmarks/run.py split`: `memnets train --task 1 --restarts 10` with the defaults, in "
          "one process and with its restarts split between two (`--jobs 2`, the threshold for splitting lifted for "
          f"the run), alternately, in one Python process, on {os.cpu_count()} CPU cores; 33,600 restart-steps. "
          f"Load average at the end: {os.getloadavg()[0]:.2f}.\n\n",
          "| attempt | settings | processes | wall time (s) | test error (%) |\n|---:|---|---:|---:|---:|\n"]
    md += [f"| {r['attempt']} | {r['settings']} | {r['processes']} | {r['wall_seconds']} | {r['test_error']} |\n"
           for r in rows]
    write("split", {"rows": rows}, "".join(md))


def timed_process(who: str, command: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``command`` to its exit; its wall time in seconds (start-up included) and the finished process."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{who} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, done


def peer() -> None:
    """Issue #10's whole-process comparison: bAbI task 1 (1k) trained to completion by nmhkahn/MemN2N-pytorch (100
    epochs, its defaults) and by ``memnets train`` with its defaults, alternately, PEER_RUNS times each (default 2),
    one process at a time and one thread each, timed from start to exit (start-up, data loading and any compiling
    included). PEER_DIR is a checkout of that repository with the fixes current Python and PyTorch need; nothing
    of it is part of memnets. Where its data loader (memn2n/dataset.py) is a reconstruction, PEER_NOTE says so."""
    peer_dir = Path(os.environ["PEER_DIR"]).resolve()
    runs = int(os.environ.get("PEER_RUNS", "2"))
    theirs = [sys.executable, "memn2n/train.py", "--task", "1", "--dataset_dir", str(Path(ROOT, BABI, "en")) + "/"]
    ours = [sys.executable, "-m", "memnets.cli", "train", "--task", "1", "--data-dir", BABI, "--quiet",
            "--examples", "0", "--out", "runs/bench-peer", "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for _ in range(runs):
        pair = {}
        for who, command, cwd in (("theirs", theirs, peer_dir), ("ours", ours, ROOT)):
            print("$ " + shlex.join(command), flush=True)
            load = os.getloadavg()[0]
            wall, done = timed_process(who, command, cwd, env)
            pair[who] = {"wall_seconds": round(wall, 2), "load_average_at_start": round(load, 2),
                         "last_line": (done.stdout.strip().splitlines() or [""])[-1]}
        pair["ratio"] = round(pair["theirs"]["wall_seconds"] / pair["ours"]["wall_seconds"], 2)
        rows.append(pair)
    note = os.environ.get("PEER_NOTE", "")
    md = ["# Whole process, bAbI task 1 (1k): nmhkahn/MemN2N-pytorch against memnets\n",
          "Produced by `PEER_DIR=... python benchmarks/run.py peer`: each trains task 1 to completion with its "
          "defaults (theirs: 100 epochs on 1,000 questions; ours: 100 epochs after linear start, on 900 questions "
          "with 100 for validation), alternately, one process at a time, one thread each, timed from start to "
          "exit.\n", f"    (in PEER_DIR) python {shlex.join([*theirs[1:-1], str(Path(BABI, 'en')) + '/'])}\n    memnets {shlex.join(ours[3:])}\n"]
    if note:
        md.append(f"{note}\n")
    md += ["| pair | theirs (s) | ours (s) | ratio | load average at start (theirs, ours) |",
           "|---:|---:|---:|---:|---|"]
    md += [f"| {i + 1} | {r['theirs']['wall_seconds']:.1f} | {r['ours']['wall_seconds']:.1f} | {r['ratio']:.2f} | "
           f"{r['theirs']['load_average_at_start']}, {r['ours']['load_average_at_start']} |"
           for i, r in enumerate(rows)]
    total = sum(r["theirs"]["wall_seconds"] for r in rows) / sum(r["ours"]["wall_seconds"] for r in rows)
    md.append(f"\nOver all pairs: {total:.2f}x. Target (issue #10): at least 5x, from one run.")
    write("peer", {"rows": rows, "ratio_overall": round(total, 2), "note": note}, "\n".join(md) + "\n")


def before() -> None:
    """The whole process of ``memnets train --task 1`` (1k, defaults) in BEFORE_DIR, a checkout of an earlier commit
    (``git worktree add DIR COMMIT``; run with PYTHONPATH=DIR so that its own package is imported), and in this
    checkout, alternately, BEFORE_RUNS times each (default 3), one process at a time, one thread each (and each
    with the default processes, ``--jobs``). BEFORE_ARGS replaces ``--task 1``; the result is named after it."""
    before_dir = Path(os.environ["BEFORE_DIR"]).resolve()
    runs = int(os.environ.get("BEFORE_RUNS", "3"))
    commit = commit_of(before_dir)
    args = shlex.split(os.environ.get("BEFORE_ARGS", "--task 1"))  # e.g. "--task 2 --restarts 10"
    name = "before" if args == ["--task", "1"] else "before-" + "-".join(a.lstrip("-") for a in args)
    command = [sys.executable, "-m", "memnets.cli", "train", *args, "--data-dir", str(Path(ROOT, BABI)),
               "--quiet", "--examples", "0", "--out", str(ROOT / "runs" / "bench-before"), "--overwrite"]
    rows = []
    for _ in range(runs):
        pair = {}
        for who, tree in (("before", before_dir), ("now", ROOT)):
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
            wall, _ = timed_process(who, command, tree, env)
            results = json.loads((ROOT / "runs" / "bench-before" / "results.json").read_text())
            pair[who] = {"wall_seconds": round(wall, 2),
                         "test_error": results["mean_error"]}
        pair["ratio"] = round(pair["before"]["wall_seconds"] / pair["now"]["wall_seconds"], 2)
        rows.append(pair)
    shown = shlex.join(command[3:-8])
    md = [f"# Whole process, bAbI 1k, `{shlex.join(args)}`, defaults: commit {commit} against this checkout\n",
          f"Produced by `BEFORE_DIR=... BEFORE_ARGS={shlex.quote(shlex.join(args))} python benchmarks/run.py before`: "
          f"`memnets {shown} --data-dir {BABI} --quiet` "
          f"in each tree, alternately, one process at a time, one thread each, timed from start to exit.\n",
          f"| pair | {commit} (s) | now (s) | ratio | test error (%), {commit} / now |", "|---:|---:|---:|---:|---|"]
    md += [f"| {i + 1} | {r['before']['wall_seconds']:.1f} | {r['now']['wall_seconds']:.1f} | {r['ratio']:.2f} | "
           f"{r['before']['test_error']} / {r['now']['test_error']} |" for i, r in enumerate(rows)]
    total = sum(r["before"]["wall_seconds"] for r in rows) / sum(r["now"]["wall_seconds"] for r in rows)
    md.append(f"\nOver all pairs: {total:.2f}x.")
    write(name, {"before_commit": commit, "rows": rows, "ratio_overall": round(total, 2)}, "\n".join(md) + "\n")


def package_copy(tree: Path, name: str, into: Path) -> None:
    """``tree``'s memnets package copied into ``into`` as package ``name``, its own imports renamed, so that an
    earlier commit's code and this checkout's load side by side in one process."""
    import re
    import shutil

    shutil.copytree(tree / "memnets", into / name)
    for path in (into / name).rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bfrom memnets([. ])", rf"from {name}\1", text)
        path.write_text(re.sub(r"\bimport memnets\b", f"import {name}", text))


def step() -> None:
    """The eager training loop on bAbI task 1 (1k), one restart: BEFORE_DIR's code (a checkout of an earlier
    commit) against this checkout's, in one process and one thread, alternately STEP_ROUNDS times (default 20):
    each time ``train`` for 3 epochs without linear start, the loop's questions/s after its first epoch. Switching
    trees every fraction of a second keeps the machine's drift (2x over minutes on these shared cores) out of the
    ratio. For the End-To-End model and HMNet (STEP_MODELS)."""
    import importlib

    import torch

    before_dir = Path(os.environ["BEFORE_DIR"]).resolve()
    rounds = int(os.environ.get("STEP_ROUNDS", "20"))
    models = os.environ.get("STEP_MODELS", "memn2n,hmn").split(",")
    commit = commit_of(before_dir)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        package_copy(before_dir, "memnets_before", Path(scratch))
        sys.path.insert(0, scratch)
        trees = {who: {m: importlib.import_module(f"{pkg}.{m}") for m in ("experiment", "train", "data.tensors",
                                                                           "data.vocab")}
                 for who, pkg in (("before", "memnets_before"), ("now", "memnets"))}
        for model in models:
            runs = {}
            for who, mod in trees.items():
                exp = mod["experiment"]
                splits = exp.read_data(exp.data_settings("babi", str(Path(ROOT, BABI)), "en", 0, 0), [1], 0.1)
                vocab = mod["data.vocab"].Vocab.build(splits["train"] + splits["valid"])
                cfg, tcfg = exp.configs(model, False, {}, {"epochs": 3, "linear_start": False, "compile": False},
                                        len(vocab))
                cfg = exp.fit_to_data(cfg, splits["train"])
                data = {k: mod["data.tensors"].vectorize(v, vocab, cfg.memory_size) for k, v in splits.items()}
                runs[who] = (mod["train"].train, (model, cfg, data["train"], data["valid"], tcfg, vocab, {}))
            rates = {who: [] for who in runs}
            for _ in range(rounds):
                for who, (train, args) in runs.items():
                    rates[who].append(train(*args, progress=False).questions_per_second)
            median = {who: sorted(r)[len(r) // 2] for who, r in rates.items()}
            rows.append({"model": model, "rates": rates, "median": median,
                         "ratio_of_medians": round(median["now"] / median["before"], 3),
                         "ratio_of_sums": round(sum(rates["now"]) / sum(rates["before"]), 3)})
    md = [f"# The eager training loop, bAbI task 1 (1k), one restart: commit {commit} against this checkout\n",
          "Produced by `BEFORE_DIR=... python benchmarks/run.py step`: both trees' code loaded in one process (the "
          f"earlier one as a renamed copy), one thread; {rounds} rounds, each training 3 epochs with one tree and "
          "then the other (`train`, no linear start); training questions per second after the first epoch, as the "
          "loop counts them.\n",
          f"| model | {commit}, median (q/s) | now, median (q/s) | ratio of medians | ratio of the rounds' sums |",
          "|---|---:|---:|---:|---:|"]
    md += [f"| {r['model']} | {r['median']['before']:,.0f} | {r['median']['now']:,.0f} | {r['ratio_of_medians']:.2f} | "
           f"{r['ratio_of_sums']:.2f} |" for r in rows]
    write("step", {"before_commit": commit, "rounds": rounds, "rows": rows}, "\n".join(md) + "\n")


BENCHMARKS = {
    "babi1k": lambda: table_benchmark(
        "babi1k", "bAbI 1k, one model per task, with the defaults: PE LS RN (the authors' released position "
        "encoding), 3 hops, best of 10 restarts", ["train", "--task", "all", "--restarts", "10"],
        "mean error at most 13.9%, at most 11 failed tasks"),
    "babi1k-eager": lambda: table_benchmark(
        "babi1k-eager", "bAbI 1k, one model per task, the defaults but in eager mode (--no-compile): the babi1k "
        "benchmark's wall time without compiling", ["train", "--task", "all", "--restarts", "10", "--no-compile"],
        "none (a comparison: compiling is worth keeping only if babi1k is faster)"),
    "babi1k-paper-pe": lambda: table_benchmark(
        "babi1k-paper-pe", "bAbI 1k, one model per task, PE LS RN with the position encoding as the paper prints it, "
        "3 hops, best of 10 restarts", ["train", "--task", "all", "--restarts", "10", "--encoding", "position"],
        "mean error at most 13.9%, at most 11 failed tasks"),
    "joint": lambda: table_benchmark(
        "joint", "bAbI 1k, one joint model for all 20 tasks, with the defaults: PE LS RN (released position "
        "encoding), 3 hops, d = 50, best of 10 restarts", ["train", "--task", "all", "--joint", "--restarts", "10"],
        "mean error at most 12.4%; 10 restarts in at most 15 minutes"),
    "joint-one": lambda: table_benchmark(
        "joint-one", "bAbI 1k, one joint model for all 20 tasks, with the defaults: PE LS RN (released position "
        "encoding), 3 hops, d = 50, one run", ["train", "--task", "all", "--joint"],
        "mean error at most 12.4% (over the best of 10); one joint run in at most 3 minutes"),
    "joint-step": joint_step,
    "joint-ls": joint_ls,
    "joint-restarts": joint_restarts,
    "joint-paper-pe": lambda: table_benchmark(
        "joint-paper-pe", "bAbI 1k, one joint model for all 20 tasks, PE LS RN (the paper's printed position "
        "encoding), 3 hops, d = 50", ["train", "--task", "all", "--joint", "--encoding", "position"],
        "mean error at most 12.4%"),
    "babi10k": lambda: table_benchmark(
        "babi10k", "bAbI 10k, one model per task, PE LS RN (released position encoding), 3 hops",
        ["train", "--task", "all", "--variant", "en-10k", "--encoding", "position-released",
         "--restarts", os.environ.get("RESTARTS_10K", "3")],
        "mean error at most 6.6% over the tasks that have training data"),
    "speed": speed,
    "main-job": main_job,
    "encoders": encoders,
    "transfer": transfer,
    "transfer-spread": transfer_spread,
    "memnn-1k": lambda: memnn_table("memnn-1k", "en", "babi1k", os.environ.get("RESTARTS_MEMNN", "5")),
    "memnn-1k-no-ngrams": lambda: memnn_table("memnn-1k-no-ngrams", "en", "babi1k",
                                              os.environ.get("RESTARTS_MEMNN", "3"), ("--no-ngrams",)),
    "memnn-10k": lambda: memnn_table("memnn-10k", "en-10k", "babi10k", os.environ.get("RESTARTS_MEMNN_10K", "1")),
    "memnn-hashing": memnn_hashing,
    "memnn-speed": memnn_speed,
    "peer": peer,
    "step": step,
    "before": before,
    "split": split,
    "task16": task16,
    "joint-subsets": joint_subsets,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in BENCHMARKS:
        sys.exit(f"usage: python benchmarks/run.py {{{','.join(BENCHMARKS)}}}")
    BENCHMARKS[sys.argv[1]]()
