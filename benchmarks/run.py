"""Benchmarks of memnets; each writes docs/results/<name>.json and .md, naming the command that produced it.

    python benchmarks/run.py babi1k      # Table 1 reproduction: 1k, per task, PE LS RN, 3 hops, best of 10
    python benchmarks/run.py babi1k-released   # the same with the authors' code's position encoding
    python benchmarks/run.py joint       # Table 1: 1k, all 20 tasks in one model, PE LS RN
    python benchmarks/run.py joint-released    # the same with the authors' code's position encoding
    python benchmarks/run.py babi10k     # Table 1: 10k, per task, PE LS RN
    python benchmarks/run.py speed       # training throughput and peak memory on task 1 (1k)
    python benchmarks/run.py transfer    # generated vs real training data, both tested on the real test set

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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
BABI = os.environ.get("MEMNETS_BABI_DIR", "../shared/data/babi")  # relative to the repository, where commands run


def memnets(args: list[str]) -> tuple[dict, float, float]:
    """Run ``memnets ARGS``; returns (its results.json, wall seconds, peak resident memory of the child in MiB)."""
    out = Path(args[args.index("--out") + 1])
    command = [sys.executable, "-m", "memnets.cli", *args]
    print("$ memnets " + shlex.join(args), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    return json.loads((out / "results.json").read_text()), wall, peak


def machine() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def write(name: str, payload: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": f"python benchmarks/run.py {name}", "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
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
          f"\nWall time {wall:.0f} s ({wall / 60:.1f} min) on {os.cpu_count()} CPU cores; peak memory {peak:.0f} MiB; "
          f"training throughput {result['questions_per_second']:,} questions/s (all restarts, after each run's "
          f"first epoch, which includes compiling).\n"]
    if not_run:
        md.append("\nNot run: " + "; ".join(f"task {t}: {why}" for t, why in not_run.items()) + "\n")
    write(name, {"results": result, "wall_seconds": round(wall, 1), "peak_memory_mib": round(peak)}, "".join(md))


def speed() -> None:
    """Throughput of one per-task run of task 1 (1k, 3 hops, d=20, 100 epochs): 1 restart and 10 side by side."""
    rows = []
    for restarts in (1, 10):
        for compiled in (True, False):
            args = ["train", "--task", "1", "--data-dir", BABI, "--restarts", str(restarts), "--quiet",
                    "--examples", "0", "--out", f"runs/bench-speed-{restarts}-{int(compiled)}"]
            result, wall, peak = memnets(args + ([] if compiled else ["--no-compile"]))
            rows.append({"restarts": restarts, "compiled": compiled, "command": result["command"],
                         "questions_per_second": result["questions_per_second"], "wall_seconds": round(wall, 1),
                         "train_seconds": result["train_seconds"], "test_error": result["mean_error"],
                         "peak_memory_mib": round(peak)})
    md = ["# Training speed, bAbI task 1 (1k), 3 hops, d = 20, 100 epochs after a linear start of up to 20\n\n",
          "Produced by `python benchmarks/run.py speed`. Questions per second count every training question of "
          "every restart, after the first epoch (which includes compiling). Peak memory is the largest resident "
          "size of any memnets process so far in this benchmark.\n\n",
          "| restarts | torch.compile | questions/s | wall time (s) | test error (%) | peak memory (MiB) |\n",
          "|---:|:---:|---:|---:|---:|---:|\n"]
    for r in rows:
        md.append(f"| {r['restarts']} | {'yes' if r['compiled'] else 'no'} | {r['questions_per_second']:,} | "
                  f"{r['wall_seconds']} | {r['test_error']} | {r['peak_memory_mib']} |\n")
    md.append("\nCommands:\n\n" + "".join(f"    {r['command']}\n" for r in rows))
    write("speed", {"runs": rows}, "".join(md))


def words(folder: str | Path, task: int, split: str) -> set[str]:
    from memnets.data.babi import read_split, tokenize

    records = read_split(folder, task, split)
    return {w for r in records for s in (*r.story, r.question) for w in tokenize(s)} | {r.answer for r in records}


def transfer() -> None:
    """Issue 3's faithfulness test: the babi1k configuration trained on 1,000 generated questions per task, tested
    on the real test sets, beside the same configuration trained on the real 1k training sets (the babi1k run)."""
    from memnets.data.generator import generate_task, write_tasks

    real = json.loads((RESULTS / "babi1k-released.json").read_text())["results"]
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
          "`babi1k-released` (PE LS RN with the released position encoding, 3 hops, d = 20, best of 10 restarts by "
          "validation) is trained on 1,000 generated questions per task (seed 0; the last 10% held out for "
          "validation) and on the real 1k training set (the `babi1k-released` run), and both are tested on the "
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


BENCHMARKS = {
    "babi1k": lambda: table_benchmark(
        "babi1k", "bAbI 1k, one model per task, PE LS RN, 3 hops, best of 10 restarts",
        ["train", "--task", "all", "--restarts", "10"], "mean error at most 13.9%, at most 11 failed tasks"),
    "babi1k-released": lambda: table_benchmark(
        "babi1k-released", "bAbI 1k, one model per task, PE LS RN with the authors' released position encoding, "
        "3 hops, best of 10 restarts",
        ["train", "--task", "all", "--restarts", "10", "--encoding", "position-released"],
        "mean error at most 13.9%, at most 11 failed tasks"),
    "joint": lambda: table_benchmark(
        "joint", "bAbI 1k, one joint model for all 20 tasks, PE LS RN, 3 hops, d = 50",
        ["train", "--task", "all", "--joint"], "mean error at most 12.4%"),
    "joint-released": lambda: table_benchmark(
        "joint-released", "bAbI 1k, one joint model for all 20 tasks, PE LS RN (released position encoding), 3 hops, "
        "d = 50", ["train", "--task", "all", "--joint", "--encoding", "position-released"], "mean error at most 12.4%"),
    "babi10k": lambda: table_benchmark(
        "babi10k", "bAbI 10k, one model per task, PE LS RN (released position encoding), 3 hops",
        ["train", "--task", "all", "--variant", "en-10k", "--encoding", "position-released",
         "--restarts", os.environ.get("RESTARTS_10K", "3")],
        "mean error at most 6.6% over the tasks that have training data"),
    "speed": speed,
    "transfer": transfer,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in BENCHMARKS:
        sys.exit(f"usage: python benchmarks/run.py {{{','.join(BENCHMARKS)}}}")
    BENCHMARKS[sys.argv[1]]()
