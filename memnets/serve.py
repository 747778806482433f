"""``memnets serve``: a web page and a JSON API that answer questions with trained memory networks and show where
they looked, each hop's attention (End-To-End, Sukhbaatar et al. 2015 §2) or each lookup's scores s_O and the
memory it chose (MemNN, Weston et al. 2014 §3.1), as a heatmap over the story's sentences.

    POST /api/answer   {model, story: [sentences], question} -> the answer, its score, every attention
    GET  /api/models   the models loaded: kind, config, tasks, test error, a few test stories to offer
    GET  /             the page (static/: HTML, CSS and plain JavaScript, nothing from other sites)
    GET  /docs         the OpenAPI description, as FastAPI provides it

Only the checkpoints named on the command line are loaded, at start, through ``checkpoint.load_model``; a request
names a model by the name it was given here, so nothing a request says is ever opened as a file.

Requests are answered in batches: each model has a :class:`MicroBatcher` that runs one forward pass at a time in
its worker thread, and the questions that arrive while one pass runs go together into the next. Under load many
clients share a forward pass instead of queueing for one each, and an idle server answers at once (no waiting to
fill a batch). Requests only read the model: it runs in eval mode, under ``torch.no_grad()``.
"""
from __future__ import annotations

import asyncio
import gc
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from memnets import checkpoint, experiment
from memnets.data.babi import DataError, QARecord, tokenize
from memnets.data.tensors import vectorize
from memnets.experiment import Answer
from memnets.train import BEST

STATIC = Path(__file__).parent / "static"
BODY_LIMIT = 64 * 1024  # bytes of one request body: a story of a thousand bAbI sentences fits in it
MAX_SENTENCES = 1000  # story sentences per request (MemNN's default memory; End-To-End's holds 50)
MAX_WORDS = 100  # words per sentence or question (bAbI's longest has 14): bounds the padded (B, M, J) batch
BATCH_WORDS = 1 << 18  # padded word slots B * M * J of one forward pass, so one batch stays under ~200 MB
MAX_BATCH = 64  # questions in one forward pass
STORIES = 8  # test stories offered per model
REQUEST_SHAPE = '{"model": NAME, "story": ["sentence", ...], "question": "...?"}'


class RequestError(Exception):
    """A request the server refuses: the HTTP status, a code for programs and one line for people."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ------------------------------------------------------------------------------------------------ the models


class Scored(NamedTuple):
    """One answer as ``experiment.answer`` gives it, with the score behind it."""

    answer: Answer
    score: float  # the answer's raw score: its logit (End-To-End, eq. 3) or s_R (MemNN, §3.1)
    probability: float | None  # End-To-End: softmax over the vocabulary; MemNN's ranking scores are not one


def answer_batch(model, vocab, records: list[QARecord]) -> list[Scored]:
    """``experiment.answer`` for several questions in one forward pass, each read as it would be alone."""
    batch = vectorize(records, vocab, model.config.memory_size)  # (B, M, J) story, (B, Jq) query, (B, M) time
    with torch.no_grad():
        out = model(**model.inputs(batch.tensors(), False, supervised=False))
        best = out.logits.argmax(-1)  # (B,)
        score = out.logits.gather(1, best.unsqueeze(1))[:, 0]  # (B,)
        probability = None if model.strongly_supervised else out.logits.softmax(-1).gather(1, best.unsqueeze(1))[:, 0]
    kept = (batch.time > 0).sum(1).tolist()  # (B,) memory slots filled: the most recent sentences
    found = []
    for i, (record, k) in enumerate(zip(records, kept)):
        sentences = list(record.story)[-k:]
        text = vocab.words[int(best[i])]
        if model.strongly_supervised:  # MemNN: every sentence's s_O per lookup, and the memory each selected
            chosen = [int(s) if 0 <= int(s) < k else None for s in out.selected[i].tolist()]
            weights = [row[:k].tolist() for row in out.scores[i]]
            one = Answer(text, sentences, "lookup", weights, chosen)
        else:
            weights = [a[i, :k].tolist() for a in out.attention]
            one = Answer(text, sentences, "hop", weights, [max(range(k), key=w.__getitem__) for w in weights])
        found.append(Scored(one, float(score[i]), None if probability is None else float(probability[i])))
    return found


class MicroBatcher:
    """Answers the questions for one model in batches: one forward pass at a time, in a worker thread of its own;
    what arrives while a pass runs goes into the next one (at most ``MAX_BATCH`` questions and ``BATCH_WORDS``
    padded word slots)."""

    def __init__(self, model, vocab):
        self.model, self.vocab = model, vocab
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memnets-forward")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: list[tuple[QARecord, int, asyncio.Future]] = []  # (record, its widest sentence, result)
        self.worker: asyncio.Task | None = None
        self.questions = 0
        self.batches = 0

    async def answer(self, record: QARecord, width: int) -> Scored:
        """The answer to one question; ``width`` is the most words of its question or any sentence it keeps."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (a test client's, a restarted server's): start afresh
            self.loop, self.pending, self.worker = loop, [], None
        result = loop.create_future()
        self.pending.append((record, width, result))
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self.drain())
        return await result

    def take(self) -> list[tuple[QARecord, int, asyncio.Future]]:
        """The next batch: the oldest questions while the padded batch (n, M, J) stays within BATCH_WORDS."""
        slots = self.model.config.memory_size
        count, width = 0, 1
        for _, w, _ in self.pending[:MAX_BATCH]:
            if count and (count + 1) * slots * max(width, w) > BATCH_WORDS:
                break
            count, width = count + 1, max(width, w)
        batch, self.pending = self.pending[:count], self.pending[count:]
        return batch

    async def drain(self) -> None:
        while self.pending:
            batch = [item for item in self.take() if not item[2].done()]  # a client gone: nothing to answer
            if not batch:
                continue
            try:
                found = await self.loop.run_in_executor(self.executor, answer_batch, self.model, self.vocab,
                                                        [record for record, _, _ in batch])
            except Exception as err:  # a bug, not a bad request: every waiting client gets it, the server goes on
                for _, _, result in batch:
                    if not result.done():
                        result.set_exception(err)
                continue
            self.batches += 1
            self.questions += len(batch)
            for (_, _, result), one in zip(batch, found):
                if not result.done():
                    result.set_result(one)


class Served(NamedTuple):
    """A loaded model and what the API tells about it."""

    name: str
    path: Path
    model: object
    vocab: object
    meta: dict
    test_error: dict[str, float] | None  # per task, from the run's results files
    stories: list[dict]
    batcher: MicroBatcher


def checkpoint_paths(targets: list[str | Path]) -> list[Path]:
    """The checkpoints the targets name: a file itself, or every ``checkpoint.safetensors`` under a directory."""
    paths: list[Path] = []
    for target in map(Path, targets):
        if target.is_dir():
            found = sorted(target.glob(f"**/{BEST}"))
            if not found:
                raise checkpoint.CheckpointError(f"no {BEST} found under {target}")
        elif target.is_file():
            found = [target]
        else:
            raise checkpoint.CheckpointError(f"{target}: no such checkpoint or run directory")
        paths += [p for p in found if p.resolve() not in {q.resolve() for q in paths}]
    return paths


def model_name(path: Path) -> str:
    """A stable name: the run directory's name and the task folder (``demo/task01``), the run's name for a joint
    model (``demo``), or the folder's name for a checkpoint outside a run (and the file's, if not the usual)."""
    path = path.resolve()
    folder = path.parent
    is_run = lambda d: (d / experiment.RUN_FILE).is_file() or (d / "results.json").is_file()  # noqa: E731
    parts = [folder.parent.name, folder.name] if not is_run(folder) and is_run(folder.parent) else [folder.name]
    return "/".join(parts + ([] if path.name == BEST else [path.stem]))


def recorded_error(path: Path) -> dict[str, float] | None:
    """Per-task test error (%) from the results files beside the checkpoint: the task folder's result.json, or the
    run directory's results.json; None when there are none (a checkpoint copied out of its run)."""
    folder = path.parent
    sources = [(folder / "result.json", lambda r: r["per_task"]),  # a task's model, or a joint run's
               (folder.parent / "results.json", lambda r: r["runs"][folder.name]["per_task"])]
    for file, pick in sources:
        try:
            return {str(t): float(e) for t, e in pick(json.loads(file.read_text())).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # missing or not what a run writes: try the next, else report none
    return None


def sample_stories(meta: dict, count: int = STORIES) -> list[dict]:
    """A few test questions of the model's own data (generated data is regenerated from its seed), spread over
    the test set; none if the data cannot be read here (a bAbI folder on another machine)."""
    try:
        records = experiment.read_data(meta["data"], meta["data"]["tasks"], 0.1)["test"]
    except (DataError, OSError, KeyError, TypeError, ValueError):
        return []
    picks = records[:: max(1, len(records) // count)][:count]
    return [{"task": r.task, "story": list(r.story), "question": r.question, "answer": r.answer} for r in picks]


def load_models(targets: list[str | Path], log=lambda line: None) -> list[Served]:
    """Load exactly the checkpoints the targets name (see :func:`checkpoint_paths`), each under a unique name."""
    served: dict[str, Served] = {}
    for path in checkpoint_paths(targets):
        name = model_name(path)
        if name in served:
            raise checkpoint.CheckpointError(f"{path} and {served[name].path} would both be named {name!r}; "
                                             f"serve run directories with different names")
        model, vocab, meta = checkpoint.load_model(path)
        if meta["model"] == "kvmemnn":  # its questions come with a knowledge base, not a story
            raise checkpoint.CheckpointError(f"{path}: a kvmemnn model answers from a knowledge base, which the "
                                             f"page does not serve yet; ask it with: memnets ask {path}")
        model.requires_grad_(False)  # requests only read the model
        served[name] = Served(name, path, model, vocab, meta, recorded_error(path), sample_stories(meta),
                              MicroBatcher(model, vocab))
        log(f"loaded {name} ({meta['model']}, tasks {', '.join(map(str, meta['data'].get('tasks', [])))}) "
            f"from {path}")
    return list(served.values())


# ----------------------------------------------------------------------------------------------------- the API


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="a model's name, as GET /api/models lists them", examples=["demo/task01"])
    story: list[str] = Field(default_factory=list, description="the story's sentences, oldest first",
                             examples=[["Mary moved to the bathroom.", "John went to the hallway."]])
    question: str = Field(description="a question about the story, ending in '?'", examples=["Where is Mary?"])


class AnswerResponse(BaseModel):
    model: str
    question: str
    answer: str
    score: float = Field(description="the answer's raw score: its logit (memn2n) or s_R (memnn)")
    probability: float | None = Field(description="memn2n: the answer's softmax probability; memnn: null")
    step: Literal["hop", "lookup"] = Field(description="hop: End-To-End attention; lookup: MemNN's O module")
    sentences: list[str] = Field(description="the sentences the model's memory held, oldest first")
    weights: list[list[float]] = Field(description="per hop, the attention on each sentence (they and the empty "
                                                   "slots sum to 1); per lookup, s_O of each sentence")
    chosen: list[int | None] = Field(description="per hop or lookup, the index in sentences it picked (the "
                                                 "strongest attention; the memory selected); null: STOP")
    empty_slots: list[float] | None = Field(description="memn2n: per hop, the attention on empty memory slots")
    kept: list[int] = Field(description="indices in the request's story of the sentences the memory held")
    dropped: int = Field(description="older sentences left out: the story is longer than the model's memory")
    unknown_words: list[str] = Field(description="words of the question and kept sentences not in the vocabulary")
    warnings: list[str] = Field(description="one line each: sentences left out, unknown words")


class StoryExample(BaseModel):
    task: int
    story: list[str]
    question: str
    answer: str


class ModelInfo(BaseModel):
    name: str
    kind: str = Field(description="memn2n (End-To-End Memory Network) or memnn (MemNN)")
    config: dict
    tasks: list[int]
    test_error: dict[str, float] | None = Field(description="per task, % (from the run's results), if known")
    stories: list[StoryExample] = Field(description="a few test questions of the model's data")
    served: dict[str, int] = Field(description="questions answered and forward passes run since the start")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class ErrorResponse(BaseModel):
    error: str = Field(description="what is wrong, for programs: not_json, empty_story, unknown_model, ...")
    detail: str = Field(description="what is wrong, one line for people")


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": message}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware that refuses a request body over ``limit`` bytes (413) before the app reads it, by its
    declared length or, for a chunked body, as soon as it grows past the limit."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def too_large(self, scope, receive, send):
        response = error_response(413, "too_large", f"the request body is over {self.limit:,} bytes; send a "
                                                    f"shorter story (at most {MAX_SENTENCES:,} sentences)")
        await response(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self.too_large(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self.too_large(scope, receive, send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():  # the app reads the body we already hold, then whatever else the client sends
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def validation_error(errors: list[dict]) -> tuple[int, str, str]:
    """One line for the first thing wrong with a request body that does not fit AnswerRequest."""
    err = errors[0]
    kind, loc = err["type"], [p for p in err["loc"] if p != "body"]
    if kind == "json_invalid":
        return 400, "not_json", f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')}); " \
                                f"send {REQUEST_SHAPE}"
    if not loc:  # the body as a whole: empty, or not a JSON object
        what = "empty" if kind == "missing" else "not a JSON object (send it with Content-Type: application/json)"
        return 400, "not_json", f"the body is {what}; send {REQUEST_SHAPE}"
    field = str(loc[0])
    if kind == "missing":
        return 422, "missing_field", f"the body has no {field!r}; send {REQUEST_SHAPE}"
    if kind == "extra_forbidden":
        return 422, "unknown_field", f"unexpected field {field!r}; the fields are 'model', 'story' and 'question'"
    where = f"story sentence {loc[1] + 1}" if field == "story" and len(loc) > 1 else repr(field)
    expected = {"story": "a list of sentences (strings)"}.get(field, "a string") if len(loc) == 1 else "a string"
    return 422, "invalid_field", f"{where}: {err['msg'].lower()}; expected {expected}"


def read_question(served: Served, story: list[str], question: str) -> tuple[QARecord, int, dict]:
    """Check a question and its story for what the model can answer; returns the record to answer, its widest
    sentence (for batching), and what the response says about the input: which sentences were kept, which words
    are unknown. Each refusal is a RequestError with one line naming what is wrong."""
    question = question.strip()
    if not story:
        if not question:
            raise RequestError(400, "empty_story", "the story is empty: type its sentences, one per line, "
                                                   "and a question ending in '?'")
        raise RequestError(400, "question_without_story", f"{question!r} has no story to be answered from: "
                                                           f"give the story's sentences first, oldest first")
    if len(story) > MAX_SENTENCES:
        raise RequestError(400, "too_many_sentences", f"the story has {len(story):,} sentences; at most "
                                                      f"{MAX_SENTENCES:,} per request (the model reads only its "
                                                      f"last {served.model.config.memory_size})")
    story = [s.strip() for s in story]
    if not any(story):
        raise RequestError(400, "empty_story", f"the story is empty: its {len(story)} sentence(s) are blank")
    blank = [i + 1 for i, s in enumerate(story) if not s]
    if blank:
        raise RequestError(400, "blank_sentence", f"story sentence {blank[0]} is blank; "
                                                  f"leave out empty sentences")
    if not question:
        raise RequestError(400, "no_question", "no question: ask one about the story, ending in '?'")
    if not question.endswith("?"):
        raise RequestError(400, "not_a_question", f"{question!r} does not end in '?': questions end in '?', story "
                                                    f"sentences do not")
    slots = served.model.config.memory_size
    first = max(0, len(story) - slots)  # the memory holds the most recent sentences (memnets.data.tensors)
    words = [tokenize(s) for s in story[first:]]
    asked = tokenize(question)
    for i, w in enumerate(words):
        if len(w) > MAX_WORDS:
            raise RequestError(400, "long_sentence", f"story sentence {first + i + 1} has {len(w)} words; "
                                                     f"at most {MAX_WORDS} per sentence")
    if len(asked) > MAX_WORDS:
        raise RequestError(400, "long_sentence", f"the question has {len(asked)} words; at most {MAX_WORDS}")
    unknown = list(dict.fromkeys(w for w in (*asked, *(x for s in words for x in s))
                                 if w not in served.vocab.index))
    warnings = []
    if first:
        warnings.append(f"the story has {len(story)} sentences but the model's memory holds {slots}: it read the "
                        f"last {slots} (sentences {first + 1}-{len(story)}) and left out the first {first}")
    if unknown:
        warnings.append(f"words the model never saw in training, read as unknown: {', '.join(unknown)}")
    notes = {"kept": list(range(first, len(story))), "dropped": first, "unknown_words": unknown,
             "warnings": warnings}
    width = max(len(w) for w in (asked, *words))  # the padded J this question needs in a batch
    return QARecord(tuple(story), question, "<unk>", (), 0), width, notes


def create_app(models: list[Served]) -> FastAPI:
    """The FastAPI application serving ``models`` (from :func:`load_models`)."""
    by_name = {m.name: m for m in models}
    app = FastAPI(title="memnets", version="0.1.0",
                  description="Answers questions about stories with trained memory networks (End-To-End Memory "
                              "Networks, MemNN) and shows what each hop or lookup looked at.")
    app.add_middleware(BodyLimit, limit=BODY_LIMIT)
    refusals = {status: {"model": ErrorResponse} for status in (400, 404, 413, 422)}  # for OpenAPI

    @app.exception_handler(RequestError)
    async def refused(request: Request, err: RequestError):
        return error_response(err.status, err.code, err.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        return error_response(*validation_error(list(err.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        if err.status_code == 400:  # FastAPI's only 400: a body it cannot decode (bytes that are not UTF-8)
            return error_response(400, "not_json", f"the body is not JSON text (UTF-8); send {REQUEST_SHAPE}")
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, f"http_{err.status_code}")
        return error_response(err.status_code, code, f"{request.method} {request.url.path}: {err.detail}",
                              err.headers)  # 405 keeps its Allow header

    @app.get("/api/models", response_model=ModelsResponse, summary="The models this server answers with")
    async def api_models():
        return {"models": [{"name": m.name, "kind": m.meta["model"], "config": m.meta["config"],
                            "tasks": m.meta["data"].get("tasks", []), "test_error": m.test_error,
                            "stories": m.stories,
                            "served": {"questions": m.batcher.questions, "batches": m.batcher.batches}}
                           for m in models]}

    @app.post("/api/answer", response_model=AnswerResponse, responses=refusals,
              summary="Answer a question about a story, with every hop's attention or lookup's scores")
    async def api_answer(request: AnswerRequest):
        served = by_name.get(request.model)
        if served is None:
            raise RequestError(404, "unknown_model", f"no model named {request.model!r}; this server has "
                                                     f"{', '.join(by_name)} (GET /api/models)")
        record, width, notes = read_question(served, request.story, request.question)
        found = await served.batcher.answer(record, width)
        one = found.answer
        empty = [max(0.0, 1 - sum(w)) for w in one.weights] if one.step == "hop" else None
        return {"model": served.name, "question": record.question, "answer": one.answer, "score": found.score,
                "probability": found.probability, "step": one.step, "sentences": one.sentences,
                "weights": one.weights, "chosen": one.chosen, "empty_slots": empty, **notes}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (0: any free port). Bound here, before serving, so that an address in use
    is one OSError line from the command, not a log line and an exit from inside uvicorn."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not one: expected 0 to 65535 (0: any free port)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections
    # of such a socket, and with it on, a response written in two parts waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # from here on connections wait in the backlog, even before uvicorn has started
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def run(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` on the bound socket with uvicorn until interrupted."""
    import uvicorn

    # Everything alive now (PyTorch, the models, FastAPI: a few hundred thousand objects) lives as long as the
    # server: frozen out of the collector's reach, a full collection no longer walks it. Without this, every
    # second or so under load one took ~200 ms, and every request in flight waited for it (p99 ~230 ms, not ~90).
    gc.collect()
    gc.freeze()
    # http="auto" takes httptools (a dependency: half the CPU per request of uvicorn's pure-Python h11)
    uvicorn.Server(uvicorn.Config(app, http="auto", log_level="warning")).run(sockets=[sock])
