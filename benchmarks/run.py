"""Benchmarks of memnets; each writes docs/results/<name>.json and .md, naming the command that produced it.

    python benchmarks/run.py babi1k      # Table 1 reproduction: 1k, per task, PE LS RN, 3 hops, best of 10
    python benchmarks/run.py joint       # Table 1: 1k, all 20 tasks in one model, PE LS RN
    python benchmarks/run.py babi10k     # Table 1: 10k, per task, PE LS RN
    python benchmarks/run.py speed       # training throughput and peak memory on task 1 (1k)

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
BABI = os.environ.get("MEMNETS_BABI_DIR", str(ROOT.parent / "shared" / "data" / "babi"))


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


BENCHMARKS = {
    "babi1k": lambda: table_benchmark(
        "babi1k", "bAbI 1k, one model per task, PE LS RN, 3 hops, best of 10 restarts",
        ["train", "--task", "all", "--restarts", "10"], "mean error at most 13.9%, at most 11 failed tasks"),
    "joint": lambda: table_benchmark(
        "joint", "bAbI 1k, one joint model for all 20 tasks, PE LS RN, 3 hops, d = 50",
        ["train", "--task", "all", "--joint"], "mean error at most 12.4%"),
    "babi10k": lambda: table_benchmark(
        "babi10k", "bAbI 10k, one model per task, PE LS RN, 3 hops",
        ["train", "--task", "all", "--variant", "en-10k", "--restarts", os.environ.get("RESTARTS_10K", "3")],
        "mean error at most 6.6% over the tasks that have training data"),
    "speed": speed,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in BENCHMARKS:
        sys.exit(f"usage: python benchmarks/run.py {{{','.join(BENCHMARKS)}}}")
    BENCHMARKS[sys.argv[1]]()
