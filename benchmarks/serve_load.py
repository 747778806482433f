"""Load benchmark of ``memnets serve``: requests per second, latency and errors under 64 concurrent clients and
under one, for a 3-hop End-To-End Memory Network trained on generated bAbI task 1.

    pip install -c constraints.txt -e '.[bench]'   # aiohttp, the client
    python benchmarks/serve_load.py                # writes docs/results/serve-load.json and .md

It trains the model once into runs/bench-serve (``memnets train --task 1 --hops 3``; kept for later runs), starts
``memnets serve runs/bench-serve`` on 127.0.0.1 (a free port) in a child process, and sends, with aiohttp,
10,000 requests from 64 clients at once (each on its own connection, sending its next request as soon as the last
is answered), then 2,000 from a single client. aiohttp rather than httpx because the client shares the machine's
two cores with the server, and httpx.AsyncClient spends about 2 ms of CPU per request (aiohttp 0.2 ms): with it
the client, not the server, sets the pace. Requests are the model's test questions, in
turn; a request is an error unless it gets HTTP 200 with an answer. Every request goes to 127.0.0.1 only, and each
phase stops by itself after its count (or its time limit). Client and server share this machine's CPU cores.
Targets: no errors, p99 latency under 100 ms.
"""
from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import urllib.request

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
RUN = "runs/bench-serve"
TRAIN = ["train", "--task", "1", "--hops", "3", "--quiet", "--examples", "0", "--out", RUN]
PHASES = [("64 clients", 64, 10_000), ("1 client", 1, 2_000)]
WARMUP = 200
PHASE_LIMIT_S = 600  # a phase that has not finished by then stops and counts what is left as errors


def memnets(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "memnets.cli", *args], cwd=ROOT, **kwargs)


def start_server() -> tuple[subprocess.Popen, str]:
    """``memnets serve`` on a free port of 127.0.0.1; returns the process and the URL it printed."""
    server = memnets("serve", RUN, "--host", "127.0.0.1", "--port", "0", stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    for line in server.stdout:
        print(line, end="", flush=True)
        found = re.search(r"serving .* at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return server, found.group(1)
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError("memnets serve did not start")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1)))]


async def phase(url: str, model: str, questions: list[dict], clients: int, total: int) -> dict:
    """Send ``total`` requests from ``clients`` concurrent clients; latency of each, errors by kind."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    right = 0
    sent = 0

    async def client() -> None:
        nonlocal sent, right
        # one connection per client: a session of its own, whose pool keeps that connection alive
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
            while sent < total:
                q = questions[sent % len(questions)]
                sent += 1
                started = time.perf_counter()
                try:
                    async with http.post(url + "api/answer", json={"model": model, "story": q["story"],
                                                                   "question": q["question"]}) as r:
                        body = await r.json(content_type=None)
                    ok = r.status == 200 and "answer" in body
                    kind = None if ok else f"HTTP {r.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
                    ok, kind = False, type(err).__name__
                latencies.append(time.perf_counter() - started)
                if ok:
                    right += body["answer"] == q["answer"]
                else:
                    errors[kind] = errors.get(kind, 0) + 1

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(client()) for _ in range(clients)]
    done, pending = await asyncio.wait(tasks, timeout=PHASE_LIMIT_S)
    for task in pending:
        task.cancel()
    wall = time.perf_counter() - started
    if pending:
        errors["unfinished (phase time limit)"] = total - len(latencies)
    ms = sorted(1000 * t for t in latencies)
    return {"clients": clients, "requests": total, "answered": len(latencies) - sum(errors.values()),
            "errors": sum(errors.values()), "errors_by_kind": errors, "wall_seconds": round(wall, 2),
            "requests_per_second": round(len(latencies) / wall, 1),
            "latency_ms": {"p50": round(percentile(ms, 50), 2), "p90": round(percentile(ms, 90), 2),
                           "p99": round(percentile(ms, 99), 2), "max": round(ms[-1], 2) if ms else None},
            "answers_right": right}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): what a request costs, apart from waiting for a
    core that other work holds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def served(url: str) -> dict:
    with urllib.request.urlopen(url + "api/models", timeout=30) as response:
        return json.loads(response.read())["models"][0]


def main() -> None:
    if not (ROOT / RUN / "task01" / "checkpoint.safetensors").is_file():
        print(f"$ memnets {' '.join(TRAIN)} --overwrite", flush=True)
        if memnets(*TRAIN, "--overwrite").wait() != 0:
            raise SystemExit("training the benchmark's model failed")
    sys.path.insert(0, str(ROOT))
    from memnets import checkpoint, experiment

    _, _, meta = checkpoint.load_model(ROOT / RUN / "task01" / "checkpoint.safetensors")
    questions = [{"story": list(r.story), "question": r.question, "answer": r.answer}
                 for r in experiment.read_data(meta["data"], meta["data"]["tasks"], 0.1)["test"]]
    load_before = os.getloadavg()
    server, url = start_server()
    try:
        info = served(url)
        asyncio.run(phase(url, info["name"], questions, 8, WARMUP))  # first requests: allocations, caches
        results = []
        for label, clients, total in PHASES:
            before = served(url)["served"]
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            result = asyncio.run(phase(url, info["name"], questions, clients, total))
            server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
            after = served(url)["served"]
            result["server_cpu_ms_per_request"] = round(1000 * server_cpu / total, 3)
            result["client_cpu_ms_per_request"] = round(1000 * client_cpu / total, 3)
            result["server_cpu_share"] = round(server_cpu / result["wall_seconds"], 2)  # of one core
            passes = after["batches"] - before["batches"]
            result["label"] = label
            result["forward_passes"] = passes
            result["mean_batch"] = round((after["questions"] - before["questions"]) / max(1, passes), 2)
            results.append(result)
            print(f"{label}: {result['requests_per_second']:,.0f} requests/s, p50 {result['latency_ms']['p50']} ms, "
                  f"p99 {result['latency_ms']['p99']} ms, {result['errors']} errors, "
                  f"{result['mean_batch']} questions per forward pass; server CPU "
                  f"{result['server_cpu_ms_per_request']} ms/request ({result['server_cpu_share']} of a core), "
                  f"client CPU {result['client_cpu_ms_per_request']} ms/request", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    import torch

    payload = {"command": "python benchmarks/serve_load.py", "benchmark": "serve-load",
               "model": {"name": info["name"], "kind": info["kind"], "config": info["config"],
                         "test_error": info["test_error"], "trained_by": f"memnets {' '.join(TRAIN)}"},
               "server": f"memnets serve {RUN} --host 127.0.0.1 --port 0 (uvicorn, one process)",
               "client": f"aiohttp {aiohttp.__version__}, one connection per client, same machine",
               "test_questions": len(questions), "warmup_requests": WARMUP,
               "load_average_before": [round(x, 2) for x in load_before],
               "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                           "platform": platform.platform()},
               "targets": {"errors": 0, "p99_ms": 100},
               "phases": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve-load.json").write_text(json.dumps(payload, indent=2) + "\n")
    rows = "".join(f"| {r['label']} | {r['requests']:,} | {r['requests_per_second']:,.0f} | {r['latency_ms']['p50']} "
                   f"| {r['latency_ms']['p90']} | {r['latency_ms']['p99']} | {r['latency_ms']['max']} "
                   f"| {r['errors']} | {r['mean_batch']} | {r['server_cpu_ms_per_request']} |\n" for r in results)
    errors = ", ".join(f"{e:.1f}% on task {t}" for t, e in (info["test_error"] or {}).items()) or "unknown"
    met = all(r["errors"] == 0 and r["latency_ms"]["p99"] < 100 for r in results)
    md = (f"# memnets serve under load: `python benchmarks/serve_load.py`\n\n"
          f"Model: {info['name']}, a 3-hop End-To-End Memory Network trained on generated bAbI task 1 "
          f"(`memnets {' '.join(TRAIN)}`; test error {errors}). Server: `memnets serve {RUN}` on "
          f"127.0.0.1 (uvicorn, one process, micro-batched forward passes). Client: aiohttp on the same "
          f"machine ({os.cpu_count()} CPU cores, load average {load_before[0]:.1f} before the run: other "
          f"benchmarks were running), one keep-alive connection per client, each sending its next request as soon "
          f"as the last is answered; {WARMUP} warm-up requests first.\n\n"
          f"| phase | requests | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors | questions per "
          f"forward pass | server CPU per request (ms) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{rows}\n"
          f"Latency is measured by the client, from sending a request to reading its whole answer. Server CPU is "
          f"the server process's user + system time over the phase, per request: what it would cost on an idle "
          f"core.\n\n"
          f"Targets: zero errors and p99 under 100 ms: {'met' if met else 'NOT met'}.\n")
    (RESULTS / "serve-load.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
