"""Tests of ``memnets serve`` (memnets/serve.py): every endpoint and every bad input, for both models, through
FastAPI's TestClient; batched answers against ``experiment.answer`` one by one; the command line.

Two tiny models (generated task 1, 64 questions, 2 epochs, eager mode) are trained once for the module, in-process,
as ``memnets train`` trains them: an End-To-End one and a MemNN.
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import shutil
import socket
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from memnets import checkpoint, experiment, serve
from memnets.cli import main
from memnets.data.babi import QARecord
from memnets.train import BEST

TINY = ["--task", "1", "--no-compile", "--quiet", "--epochs", "2", "--questions", "64", "--examples", "0"]
NAMES = {"memn2n": "e2e/task01", "memnn": "mnn/task01"}
STORY = ["Mary moved to the bathroom.", "John went to the hallway.", "Mary went to the garden."]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The two run directories, and what ``memnets train`` printed for each."""
    root = tmp_path_factory.mktemp("serve")
    printed = {}
    for kind, extra in (("e2e", ["--ls-epochs", "1"]), ("mnn", ["--model", "memnn"])):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["train", *TINY, *extra, "--out", str(root / kind)]) == 0
        printed[kind] = out.getvalue()
    return root, printed


@pytest.fixture(scope="module")
def models(runs):
    return serve.load_models([runs[0] / "e2e", runs[0] / "mnn"])


@pytest.fixture(scope="module")
def client(models):
    with TestClient(serve.create_app(models)) as test_client:
        yield test_client


def by_kind(models, kind: str) -> serve.Served:
    return next(m for m in models if m.name == NAMES[kind])


def close(a: list[list[float]], b: list[list[float]]) -> bool:
    """Equal up to float rounding: a batch's matrix products may sum in another order than one question's."""
    return len(a) == len(b) and all(len(x) == len(y) and all(math.isclose(u, v, rel_tol=1e-5, abs_tol=1e-6)
                                                             for u, v in zip(x, y)) for x, y in zip(a, b))


def same_answer(found: experiment.Answer, expected: experiment.Answer) -> bool:
    return (found.answer, found.sentences, found.step, found.chosen) == \
        (expected.answer, expected.sentences, expected.step, expected.chosen) and close(found.weights,
                                                                                        expected.weights)


# ---------------------------------------------------------------------------------------------------- models


def test_models_lists_each_loaded_model_with_its_config_tasks_test_error_and_stories(client, runs):
    listed = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(listed) == set(NAMES.values())
    for kind, name in NAMES.items():
        m = listed[name]
        assert m["kind"] == kind and m["tasks"] == [1]
        folder = runs[0] / name.split("/")[0] / "task01"
        assert m["config"] == checkpoint.load(folder / BEST)[1]["config"]
        assert m["test_error"] == json.loads((folder / "result.json").read_text())["per_task"]
        test = experiment.read_data(checkpoint.load(folder / BEST)[1]["data"], [1], 0.1)["test"]
        offered = {(tuple(s["story"]), s["question"], s["answer"]) for s in m["stories"]}
        assert 0 < len(offered) <= serve.STORIES
        assert offered <= {(r.story, r.question, r.answer) for r in test}  # real test questions of its data


def test_a_run_directory_means_every_checkpoint_under_it_and_nothing_else(runs, tmp_path):
    root = runs[0]
    assert [m.name for m in serve.load_models([root])] == ["e2e/task01", "mnn/task01"]
    # the same checkpoint named twice is loaded once; a file gets the name its run directory gives it
    assert [m.name for m in serve.load_models([root / "e2e", root / "e2e" / "task01" / BEST])] == ["e2e/task01"]
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(root / "e2e" / "task01" / BEST, loose / BEST)  # outside a run: no results files beside it
    (alone,) = serve.load_models([loose / BEST])
    assert alone.name == "loose" and alone.test_error is None and alone.stories  # data settings are in the file
    with pytest.raises(checkpoint.CheckpointError, match="nothing-here: no such checkpoint or run directory"):
        serve.load_models([root / "e2e", tmp_path / "nothing-here"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint.safetensors found under"):
        serve.load_models([tmp_path / "empty"])
    other = tmp_path / "elsewhere" / "e2e"
    shutil.copytree(root / "e2e", other)
    with pytest.raises(checkpoint.CheckpointError, match="would both be named 'e2e/task01'"):
        serve.load_models([root / "e2e", other])


def test_stories_are_none_when_the_data_cannot_be_read():
    meta = {"data": {"source": "babi", "data_dir": "/nonexistent/babi", "variant": "en", "tasks": [1]}}
    assert serve.sample_stories(meta) == []
    assert serve.sample_stories({"data": {}}) == []


# ---------------------------------------------------------------------------------------------------- answer


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
def test_answer_is_experiment_answer_with_its_score_and_every_attention(kind, client, models):
    served = by_kind(models, kind)
    r = client.post("/api/answer", json={"model": served.name, "story": STORY, "question": "Where is Mary?"})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = experiment.answer(served.model, served.vocab, STORY, "Where is Mary?")
    assert same_answer(experiment.Answer(body["answer"], body["sentences"], body["step"], body["weights"],
                                         body["chosen"]), expected)
    assert body["kept"] == [0, 1, 2] and body["dropped"] == 0 and body["unknown_words"] == [] == body["warnings"]
    assert math.isfinite(body["score"])
    if kind == "memn2n":
        assert body["step"] == "hop" and len(body["weights"]) == served.model.config.hops
        assert 0 < body["probability"] <= 1
        assert close([[e] for e in body["empty_slots"]], [[1 - sum(w)] for w in body["weights"]])
    else:
        assert body["step"] == "lookup" and len(body["weights"]) == served.model.config.lookups
        assert body["probability"] is None and body["empty_slots"] is None
        assert all(c is None or 0 <= c < 3 for c in body["chosen"])


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
def test_a_story_longer_than_the_memory_is_answered_from_its_last_sentences(kind, client, models):
    served = by_kind(models, kind)
    slots = served.model.config.memory_size
    story = [f"Mary went to the {place}." for place in ("kitchen", "office", "garden") * slots][: slots + 4]
    r = client.post("/api/answer", json={"model": served.name, "story": story, "question": "Where is Mary?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dropped"] == 4 and body["kept"] == list(range(4, slots + 4))
    assert body["sentences"] == story[4:] and all(len(w) == slots for w in body["weights"])
    assert any(f"memory holds {slots}" in w and "left out the first 4" in w for w in body["warnings"])
    expected = experiment.answer(served.model, served.vocab, story, "Where is Mary?")
    assert body["answer"] == expected.answer and body["chosen"] == expected.chosen


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
def test_unknown_words_are_answered_and_named(kind, client, models):
    r = client.post("/api/answer", json={"model": NAMES[kind], "story": ["Zelda teleported to the moon.", *STORY],
                                         "question": "Where is Zelda?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unknown_words"] == ["zelda", "teleported", "moon"]
    assert any("zelda, teleported, moon" in w for w in body["warnings"])


# ------------------------------------------------------------------------------------------------- bad input

GOOD = {"story": STORY, "question": "Where is Mary?"}
BAD = [  # (what is sent, status, error code, a fragment of the message)
    ({"json": {"story": [], "question": ""}}, 400, "empty_story", "the story is empty"),
    ({"json": {"story": ["  ", ""], "question": "Where is Mary?"}}, 400, "empty_story", "2 sentence(s) are blank"),
    ({"json": {"story": [], "question": "Where is Mary?"}}, 400, "question_without_story", "has no story"),
    ({"json": {"question": "Where is Mary?"}}, 400, "question_without_story", "has no story"),
    ({"json": {"story": [STORY[0], " ", STORY[1]], "question": "Where is Mary?"}}, 400, "blank_sentence",
     "story sentence 2 is blank"),
    ({"json": {"story": STORY, "question": "  "}}, 400, "no_question", "no question"),
    ({"json": {"story": STORY, "question": "Where is Mary"}}, 400, "not_a_question", "does not end in '?'"),
    ({"json": {"story": STORY * 400, "question": "Where is Mary?"}}, 400, "too_many_sentences",
     "the story has 1,200 sentences; at most 1,000"),
    ({"json": {"story": ["Mary " * 101], "question": "Where is Mary?"}}, 400, "long_sentence",
     "story sentence 1 has 101 words; at most 100"),
    ({"json": {"story": STORY, "question": "where " * 101 + "?"}}, 400, "long_sentence", "the question has"),
    ({"json": {"model": "no/such", **GOOD}}, 404, "unknown_model", "no model named 'no/such'"),
    ({"content": b"story: Mary went home.", "headers": {"content-type": "application/json"}}, 400, "not_json",
     "not valid JSON"),
    ({"content": b'{"model": "\xff"}', "headers": {"content-type": "application/json"}}, 400, "not_json",
     "not JSON text (UTF-8)"),
    ({"content": json.dumps(GOOD).encode(), "headers": {"content-type": "text/plain"}}, 400, "not_json",
     "Content-Type: application/json"),
    ({"content": b"[1, 2]", "headers": {"content-type": "application/json"}}, 400, "not_json",
     "not a JSON object"),
    ({"content": b""}, 400, "not_json", "the body is empty"),
    ({"content": b" " * (serve.BODY_LIMIT + 1), "headers": {"content-type": "application/json"}}, 413,
     "too_large", "over 65,536 bytes"),
    ({"json": {"story": "Mary went home.", "question": "Where is Mary?"}}, 422, "invalid_field",
     "expected a list of sentences"),
    ({"json": {"story": [STORY[0], 3], "question": "Where is Mary?"}}, 422, "invalid_field", "story sentence 2"),
    ({"json": {"model": 7, **GOOD}}, 422, "invalid_field", "'model'"),
    ({"json": {"story": STORY}}, 422, "missing_field", "no 'question'"),
    ({"json": {**GOOD, "answer": "garden"}}, 422, "unknown_field", "unexpected field 'answer'"),
]


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
@pytest.mark.parametrize("sent, status, code, fragment", BAD, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_4xx_and_the_server_answers_afterwards(sent, status, code, fragment, kind, client):
    if "json" in sent and "model" not in sent["json"]:
        sent = {"json": {"model": NAMES[kind], **sent["json"]}}
    r = client.post("/api/answer", **sent)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and fragment in body["detail"], body
    assert "\n" not in body["detail"] and "Traceback" not in body["detail"]
    after = client.post("/api/answer", json={"model": NAMES[kind], **GOOD})
    assert after.status_code == 200 and after.json()["answer"]


def test_a_chunked_body_is_cut_off_at_the_limit(client):
    def chunks():
        for _ in range(4):
            yield b" " * (serve.BODY_LIMIT // 2)

    r = client.post("/api/answer", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_unknown_paths_and_methods_are_json_errors(client):
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/api/answer")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed" and r.headers["allow"] == "POST"


def test_a_request_names_a_model_never_a_file(client, runs):
    path = str(runs[0] / "e2e" / "task01" / BEST)
    r = client.post("/api/answer", json={"model": path, **GOOD})
    assert r.status_code == 404 and r.json()["error"] == "unknown_model"


# -------------------------------------------------------------------------------------------------- batching


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
def test_batched_answers_equal_experiment_answer_one_by_one(kind, models):
    served = by_kind(models, kind)
    slots = served.model.config.memory_size
    records = experiment.read_data(served.meta["data"], [1], 0.1)["test"]
    records += [QARecord(tuple(STORY * slots), "Where is John?", "hallway", (), 1),  # longer than the memory
                QARecord(("Zelda teleported to the moon.", *STORY), "Where is Zelda?", "moon", (), 1),
                QARecord(("Mary went to the kitchen.",), "Where is Mary?", "kitchen", (), 1)]
    batched = serve.answer_batch(served.model, served.vocab, records)
    assert len(batched) == len(records)
    for record, found in zip(records, batched):
        assert same_answer(found.answer, experiment.answer(served.model, served.vocab, list(record.story),
                                                           record.question)), record


@pytest.mark.parametrize("kind", ["memn2n", "memnn"])
def test_concurrent_requests_share_forward_passes_and_get_their_own_answers(kind, models):
    served = by_kind(models, kind)
    stories = [s for s in served.stories] * 6
    app = serve.create_app(models)
    before = (served.batcher.questions, served.batcher.batches)

    async def ask_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            return await asyncio.gather(*(http.post("/api/answer", json={"model": served.name, "story": s["story"],
                                                                         "question": s["question"]})
                                          for s in stories))

    replies = asyncio.run(ask_all())
    questions = served.batcher.questions - before[0]
    batches = served.batcher.batches - before[1]
    assert questions == len(stories) and batches < questions  # several questions went through one pass
    for s, r in zip(stories, replies):
        assert r.status_code == 200, r.text
        body = r.json()
        expected = experiment.answer(served.model, served.vocab, s["story"], s["question"])
        assert same_answer(experiment.Answer(body["answer"], body["sentences"], body["step"], body["weights"],
                                             body["chosen"]), expected)


def test_a_batch_stays_within_its_padded_size(models, monkeypatch):
    batcher = serve.MicroBatcher(by_kind(models, "memn2n").model, None)
    slots = batcher.model.config.memory_size
    monkeypatch.setattr(serve, "BATCH_WORDS", 10 * slots)  # room for 10 one-word questions, or 2 of 5 words
    batcher.pending = [(None, 1, None) for _ in range(12)]
    assert len(batcher.take()) == 10 and len(batcher.pending) == 2
    batcher.pending = [(None, w, None) for w in (5, 5, 5, 1)]
    assert len(batcher.take()) == 2
    batcher.pending = [(None, 99, None)]  # one question alone may exceed it: it is still answered
    assert len(batcher.take()) == 1


def test_requests_never_change_the_model(client, models):
    before = {m.name: {k: v.clone() for k, v in m.model.state_dict().items()} for m in models}
    for m in models:
        for s in m.stories:
            assert client.post("/api/answer", json={"model": m.name, "story": s["story"],
                                                    "question": s["question"]}).status_code == 200
    for m in models:
        assert not m.model.training
        for key, value in m.model.state_dict().items():
            torch.testing.assert_close(value, before[m.name][key], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------ page and OpenAPI


def test_the_page_and_its_files_are_served_and_need_nothing_from_other_sites(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="heatmap"' in page.text and "static/serve.js" in page.text
    for name, kind in (("serve.js", "javascript"), ("serve.css", "text/css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    for path in serve.STATIC.iterdir():
        assert "://" not in path.read_text(), f"{path.name} loads something from another site"


def test_openapi_describes_both_endpoints(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/answer", "/api/models"} <= set(spec["paths"])
    answer = spec["paths"]["/api/answer"]["post"]
    assert {"200", "400", "404", "413", "422"} <= set(answer["responses"])
    assert set(spec["components"]["schemas"]["AnswerRequest"]["properties"]) == {"model", "story", "question"}
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------------------------------------- command line


def test_train_ends_by_saying_how_to_open_the_page(runs):
    root, printed = runs
    for kind in ("e2e", "mnn"):
        last = printed[kind].strip().splitlines()[-1]
        assert f"memnets serve {root / kind}" in last and "http://127.0.0.1:8000/" in last


def test_serve_command_prints_the_url_and_serves_the_models(runs, monkeypatch, capsys):
    served = {}

    def fake_run(app, sock):  # instead of serving forever: keep what would be served
        served["app"], served["port"] = app, sock.getsockname()[1]
        sock.close()

    monkeypatch.setattr(serve, "run", fake_run)
    assert main(["serve", str(runs[0] / "e2e"), str(runs[0] / "mnn" / "task01" / BEST), "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert f"serving 2 model(s) at http://127.0.0.1:{served['port']}/" in out
    assert "loaded e2e/task01 (memn2n" in out and "loaded mnn/task01 (memnn" in out
    with TestClient(served["app"]) as http:
        assert [m["name"] for m in http.get("/api/models").json()["models"]] == ["e2e/task01", "mnn/task01"]


def test_connections_to_the_served_socket_have_nagle_off():
    """asyncio turns TCP_NODELAY on only for sockets it sees are TCP; with Nagle's algorithm on, a response
    written in two parts (headers, body) waited ~40 ms for the client's delayed ACK."""
    sock = serve.listen("127.0.0.1", 0)

    async def nodelay_of_a_connection() -> int:
        seen = asyncio.get_running_loop().create_future()
        server = await asyncio.start_server(
            lambda r, w: seen.set_result(w.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP,
                                                                                 socket.TCP_NODELAY)), sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        server.close()
        return value

    assert asyncio.run(nodelay_of_a_connection()) != 0


@pytest.mark.parametrize("argv, fragment", [
    (["serve", "no/such/run"], "no/such/run: no such checkpoint or run directory"),
    (["serve", "RUN", "--port", "70000"], "port 70000 is not one"),
    (["serve", "RUN", "--port", "BUSY"], "cannot listen on 127.0.0.1:"),
])
def test_serve_command_errors_are_one_line(argv, fragment, runs, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        argv = [str(runs[0] / "e2e") if a == "RUN" else str(busy.getsockname()[1]) if a == "BUSY" else a
                for a in argv]
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err


# ------------------------------------------------------------------------------- random request bodies (fuzz)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
                     | st.text(max_size=40), lambda inner: st.lists(inner, max_size=5)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=20)
_sentence = st.text(max_size=60) | st.sampled_from(STORY + ["Where is Mary?", "", "  ", "\t", "Mary went to Paris."])
_bodies = st.one_of(
    _json,  # anything JSON
    st.fixed_dictionaries({"model": st.sampled_from([*NAMES.values(), "nope", ""]),
                           "story": st.lists(_sentence, max_size=12) | _json,
                           "question": _sentence | _json}),  # the right shape with random contents
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, raw=st.binary(max_size=200), as_raw=st.booleans())
def test_any_request_body_is_an_answer_or_one_4xx_error(client, body, raw, as_raw):
    """The contract of issue 9 for the server: a valid body is answered, any other is a 4xx JSON error with a
    one-line message, never a 500; the server answers afterwards."""
    if as_raw:
        r = client.post("/api/answer", content=raw, headers={"content-type": "application/json"})
    else:
        r = client.post("/api/answer", json=body)
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text)
    payload = r.json()
    if r.status_code == 200:
        assert isinstance(payload["answer"], str)
    else:
        assert set(payload) >= {"error", "detail"} and "\n" not in payload["detail"], payload
    assert client.post("/api/answer", json={"model": NAMES["memn2n"], **GOOD}).status_code == 200
