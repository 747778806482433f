"""Tests of the ``memnets`` command line: errors, train, eval, ask, generate, data download.

Every training run here is tiny (generated data, 64 questions per task and split, 1 + 2 epochs, eager mode), so the
whole file runs in seconds. Most tests call ``memnets.cli.main`` in-process; two run the real command in a
subprocess to show that what a user sees is one line and no traceback.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from memnets import checkpoint
from memnets.cli import main
from memnets.data import download

FAST = ["--no-compile", "--quiet", "--epochs", "2", "--ls-epochs", "1", "--questions", "64", "--examples", "0"]
PNG = b"\x89PNG\r\n\x1a\n"
RESULT_KEYS = {"per_task", "mean_error", "failed_tasks", "model_config", "train_config", "wall_seconds",
               "questions_per_second", "command", "data"}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``memnets ARGV`` run in-process.

    argparse reports bad options by raising SystemExit rather than returning, so that is caught as the exit code.
    """
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr naming the problem, no traceback anywhere."""
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("memnets") and "error:" in line, line
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def answers(out: str) -> list[dict]:
    """The answers ``ask`` printed: question, answer, note and the attention rows (weights, sentence)."""
    found = []
    for line in out.splitlines():
        m = re.match(r"^Q: (.*?\?)   A: (\S+)(?:   \((.*)\))?$", line)
        if m:
            found.append({"question": m[1], "answer": m[2], "note": m[3] or "", "header": None, "rows": [],
                          "empty": None})
        elif found and re.match(r"^  (hop \d+  )*hop \d+$", line):
            found[-1]["header"] = line.split("  ")[1:]
        elif found and found[-1]["header"] and re.match(r"^  +\d\.\d\d", line):
            cells = line.split()
            hops = len(found[-1]["header"])
            weights = [float(c) for c in cells[:hops]]
            sentence = re.sub(r" +<- hop [\d,]+$", "", line.split(None, hops)[hops])
            if sentence == "(empty memory slots)":  # the weight the softmax gave to empty (nil) slots
                found[-1]["empty"] = weights
            else:
                found[-1]["rows"].append((weights, sentence))
    return found


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every test from its own folder, so nothing (runs/, eval.json) lands in the checkout."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMNETS_DATA", raising=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny per-task run on generated task 1, shared by the eval and ask tests: (run dir, exit code, stdout)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["train", "--task", "1", *FAST, "--out", str(run_dir)])
    return run_dir, code, out.getvalue()


# ------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("argv, fragments", [
    (["train", "--bogus"], ["unrecognized arguments: --bogus"]),
    (["train", "--epochs", "0"], ["--epochs", "must be positive, got 0"]),
    (["train", "--restarts", "-1"], ["--restarts", "must be positive, got -1"]),
    (["train", "--task", "21"], ["task 21 does not exist"]),
    (["train", "--task", "0-3"], ["task 0 does not exist"]),
    (["train", "--task", "x"], ["bad task list 'x'"]),
    (["generate", "--task", "1,99", "--out", "gen"], ["task 99 does not exist"]),
    (["eval", "missing.safetensors"], ["eval", "checkpoint not found", "missing.safetensors"]),
    (["eval", "."], ["no checkpoint.safetensors found"]),
    (["ask", "missing.safetensors"], ["ask", "checkpoint not found", "missing.safetensors"]),
    (["data", "download", "mnist"], ["invalid choice: 'mnist'"]),
])
def test_bad_input_is_one_error_line(argv, fragments, capsys):
    code, out, err = run_cli(argv, capsys)
    assert_one_line_error(code, out, err, *fragments)


def test_bad_task_writes_nothing(tmp_path, capsys):
    code, out, err = run_cli(["train", "--task", "21", *FAST, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, out, err, "task 21")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", [bytes(range(256)) * 3, b"hello", b""])
def test_eval_and_ask_of_a_file_that_is_not_a_checkpoint(content, tmp_path, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(content)
    for command in ("eval", "ask"):
        code, out, err = run_cli([command, bad], capsys)
        assert_one_line_error(code, out, err, f"memnets {command}: error:", str(bad))


def test_eval_of_a_safetensors_file_without_memnets_metadata(tmp_path, capsys):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    code, out, err = run_cli(["eval", path], capsys)
    assert_one_line_error(code, out, err, "not a memnets checkpoint")


def test_train_on_an_empty_data_dir(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(["train", "--data-dir", empty, *FAST, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, out, err, "no file for task 1 (train)", str(empty))
    assert not (tmp_path / "run").exists()


def write_task1(folder: Path, train_text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qa1_single-supporting-fact_train.txt").write_text(train_text)
    (folder / "qa1_single-supporting-fact_test.txt").write_text(
        "1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t1\n")
    return folder


def test_train_on_a_question_without_its_tab(tmp_path, capsys):
    data = write_task1(tmp_path / "babi", "1 Mary moved to the bathroom.\n2 John went to the hallway.\n"
                                          "3 Where is Mary?\tbathroom\t1\n4 Where is John?\n")
    code, out, err = run_cli(["train", "--data-dir", data, *FAST, "--out", tmp_path / "run"], capsys)
    line = assert_one_line_error(code, out, err, "question without a tab")
    assert "qa1_single-supporting-fact_train.txt:4" in line  # names the file and the line


def test_train_on_a_question_with_spaces_for_tabs(tmp_path, capsys):
    text = "1 Mary moved to the bathroom.\n2 Where is Mary? bathroom 1\n3 Where is Mary? \tbathroom\t1\n"
    data = write_task1(tmp_path / "babi", text)
    code, out, err = run_cli(["train", "--data-dir", data, *FAST, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, out, err, "qa1_single-supporting-fact_train.txt:2", "question without a tab")


def test_train_with_fewer_questions_than_a_batch(tmp_path, capsys):
    argv = ["train", *FAST, "--questions", "10", "--out", tmp_path / "run"]  # the later --questions wins
    code, out, err = run_cli(argv, capsys)
    assert_one_line_error(code, out, err, "fewer than one batch of 32")


def test_train_with_noise_out_of_range(tmp_path, capsys):
    code, out, err = run_cli(["train", *FAST, "--noise", "2", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, out, err, "random_noise must be in [0, 1]")


def test_ask_with_a_missing_story_file(trained, tmp_path, capsys):
    run_dir, _, _ = trained
    code, out, err = run_cli(["ask", run_dir / "task01/checkpoint.safetensors", "--file", tmp_path / "no.txt"],
                             capsys)
    assert_one_line_error(code, out, err, "no.txt")


def test_failed_download_is_one_error_line(tmp_path, monkeypatch, capsys):
    calls = []

    def fail(cache_dir=None, **kwargs):
        calls.append(cache_dir)
        raise download.DownloadError("Could not download the bAbI tasks: x.")

    monkeypatch.setattr(download, "download_babi", fail)
    code, out, err = run_cli(["data", "download", "babi", "--cache-dir", tmp_path / "cache", "--quiet"], capsys)
    assert_one_line_error(code, out, err, "memnets data: error:", "Could not download the bAbI tasks: x.")
    assert calls == [tmp_path / "cache"]  # the --cache-dir reached the downloader


def test_real_command_prints_one_line_and_no_traceback(tmp_path):
    for argv, fragment in ((["train", "--task", "21"], "task 21 does not exist"),
                           (["eval", "missing.safetensors"], "checkpoint not found")):
        done = subprocess.run([sys.executable, "-m", "memnets.cli", *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, done
        assert done.stderr.count("\n") == 1 and fragment in done.stderr, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory was left behind


# -------------------------------------------------------------------------------------------------------- train


def test_train_on_generated_data(trained):
    run_dir, code, out = trained
    assert code == 0
    assert "freshly generated bAbI data (64 questions per task and split, seed 0; no download needed)" in out
    assert (run_dir / "task01" / "checkpoint.safetensors").is_file()
    assert (run_dir / "task01" / "last.safetensors").is_file()
    report = json.loads((run_dir / "results.json").read_text())
    assert RESULT_KEYS <= set(report)
    assert list(report["per_task"]) == ["1"] and 0 <= report["per_task"]["1"] <= 100
    assert report["mean_error"] == report["per_task"]["1"]
    assert report["failed_tasks"] == (report["per_task"]["1"] > 5)
    assert report["data"] == {"source": "generated", "questions": 64, "data_seed": 0, "variant": "en"}
    assert report["model_config"]["embed_dim"] == 20
    # what the model used, sized to the data: the checkpoint's config, not the requested 50 slots
    _, used = checkpoint.load(run_dir / "task01" / "checkpoint.safetensors")
    assert {k: report["model_config"][k] for k in ("memory_size", "sentence_size", "vocab_size")} == \
        {k: used["config"][k] for k in ("memory_size", "sentence_size", "vocab_size")}
    assert report["train_config"]["epochs"] == 2 and report["train_config"]["ls_epochs"] == 1
    assert report["train_config"]["compile"] is False
    assert report["command"].startswith("memnets train --task 1 --no-compile")
    assert report["paper_column"] is None  # generated data reproduces no column of the paper
    assert report["wall_seconds"] >= 0 and report["questions_per_second"] > 0
    assert f"task 1: test error {report['per_task']['1']:.1f}%" in out
    assert f"mean test error {report['mean_error']:.1f}%" in out
    assert "| 1 |" in out and "| 1 |" in (run_dir / "results.md").read_text()
    # The checkpoint records where its data came from, so that eval can regenerate it.
    _, meta = checkpoint.load(run_dir / "task01" / "checkpoint.safetensors")
    assert meta["data"] == {**report["data"], "tasks": [1]}


def test_train_per_task_and_joint(tmp_path, capsys):
    code, out, err = run_cli(["train", "--task", "1,2", *FAST, "--out", tmp_path / "each"], capsys)
    assert code == 0, err
    assert "one model per task" in out
    for t in (1, 2):
        assert (tmp_path / "each" / f"task{t:02d}" / "checkpoint.safetensors").is_file()
        assert f"task {t}: test error" in out
    report = json.loads((tmp_path / "each" / "results.json").read_text())
    assert report["mode"] == "per-task" and set(report["per_task"]) == {"1", "2"}
    assert set(report["runs"]) == {"task01", "task02"}
    assert report["mean_error"] == pytest.approx(sum(report["per_task"].values()) / 2, abs=0.01)
    assert not (tmp_path / "each" / "checkpoint.safetensors").exists()

    # Joint: one model at the run root for both tasks, and --examples answers test questions with it.
    code, out, err = run_cli(["train", "--task", "1,2", "--joint", *FAST, "--examples", "2",
                              "--out", tmp_path / "joint"], capsys)
    assert code == 0, err
    assert "one joint model" in out
    root = tmp_path / "joint"
    assert (root / "checkpoint.safetensors").is_file()
    assert not list(root.glob("task*"))
    report = json.loads((root / "results.json").read_text())
    assert report["mode"] == "joint" and set(report["per_task"]) == {"1", "2"}
    assert report["model_config"]["embed_dim"] == 50  # the joint default; --epochs given still wins
    assert report["train_config"]["epochs"] == 2
    _, meta = checkpoint.load(root / "checkpoint.safetensors")
    assert meta["data"]["tasks"] == [1, 2]
    assert "2 test question(s) of task 1" in out
    shown = answers(out)
    assert len(shown) == 2
    assert all(re.fullmatch(r"right|wrong, expected \w+", a["note"]) for a in shown)


# --------------------------------------------------------------------------------------------------------- eval


def test_eval_gives_the_error_train_reported(trained, capsys):
    run_dir, _, _ = trained
    reported = json.loads((run_dir / "results.json").read_text())["per_task"]

    code, out, err = run_cli(["eval", run_dir], capsys)
    assert code == 0, err
    assert "| 1 |" in out and f"task 1 {reported['1']:.1f}%" in out
    result = json.loads((run_dir / "eval.json").read_text())
    assert result["per_task"] == reported
    assert result["checkpoints"] == [str(run_dir / "task01" / "checkpoint.safetensors")]

    code, out, err = run_cli(["eval", run_dir / "task01" / "checkpoint.safetensors"], capsys)
    assert code == 0, err
    assert "| **mean error (%)** |" in out
    assert json.loads((run_dir / "task01" / "eval.json").read_text())["per_task"] == reported

    code, out, err = run_cli(["eval", run_dir, "--out", "elsewhere.json"], capsys)
    assert code == 0, err
    assert json.loads(Path("elsewhere.json").read_text())["per_task"] == reported


# ---------------------------------------------------------------------------------------------------------- ask


def ask_file(trained, tmp_path, capsys, text: str, *extra) -> tuple[int, str, str]:
    run_dir, _, _ = trained
    story = tmp_path / "story.txt"
    story.write_text(text)
    return run_cli(["ask", run_dir / "task01" / "checkpoint.safetensors", "--file", story, *extra], capsys)


def check_attention(answer: dict, sentences: list[str], hops: int = 3) -> None:
    assert answer["header"] == [f"hop {k + 1}" for k in range(hops)]
    assert [s for _, s in answer["rows"]] == sentences
    for k in range(hops):  # each hop's attention is a softmax over the story and the empty slots
        column = [w[k] for w, _ in answer["rows"]] + ([answer["empty"][k]] if answer["empty"] else [])
        assert all(0 <= w <= 1 for w in column)
        assert sum(column) == pytest.approx(1.0, abs=0.006 * len(column))


def test_ask_plain_sentences_with_plots(trained, tmp_path, capsys):
    run_dir, _, _ = trained
    _, meta = checkpoint.load(run_dir / "task01" / "checkpoint.safetensors")
    vocab = set(meta["vocab"])
    story = ["Mary moved to the bathroom.", "John went to the hallway.", "Daniel went back to the kitchen."]
    code, out, err = ask_file(trained, tmp_path, capsys,
                              f"{story[0]}\n{story[1]}\nWhere is Mary?\n{story[2]}\nWhere is Daniel?\n",
                              "--plot", tmp_path / "plots" / "out.png")
    assert code == 0, err
    shown = answers(out)
    assert [a["question"] for a in shown] == ["Where is Mary?", "Where is Daniel?"]
    assert all(a["answer"] in vocab and a["note"] == "" for a in shown)
    check_attention(shown[0], story[:2])  # a question is not part of the story
    check_attention(shown[1], story)
    for name in ("out.png", "out-2.png"):
        path = tmp_path / "plots" / name
        assert path.read_bytes()[:8] == PNG
        assert f"attention plot: {path}" in out
    assert not (tmp_path / "plots" / "out-3.png").exists()


def test_ask_babi_format(trained, tmp_path, capsys):
    code, out, err = ask_file(trained, tmp_path, capsys,
                              "1 Mary moved to the bathroom.\n2 John went to the hallway.\n"
                              "3 Where is Mary?\tbathroom\t1\n"
                              "1 Sandra journeyed to the garden.\n2 Where is Sandra?\tgarden\t1\n")
    assert code == 0, err
    shown = answers(out)
    assert [a["question"] for a in shown] == ["Where is Mary?", "Where is Sandra?"]  # no answer, no ids
    check_attention(shown[0], ["Mary moved to the bathroom.", "John went to the hallway."])
    check_attention(shown[1], ["Sandra journeyed to the garden."])  # id 1 started a new story


def test_ask_unknown_words_new_story_and_no_story(trained, tmp_path, capsys):
    run_dir, _, _ = trained
    _, meta = checkpoint.load(run_dir / "task01" / "checkpoint.safetensors")
    assert "zebra" not in meta["vocab"] and "wombat" not in meta["vocab"]
    code, out, err = ask_file(trained, tmp_path, capsys,
                              "Where is Mary?\n"  # nothing told yet
                              "Mary moved to the bathroom.\nWhere is the zebra?\n"
                              "\n"  # an empty line forgets the story
                              "Where is Mary?\n"
                              "The wombat went to the garden.\nWhere is the wombat?\n")
    assert code == 0, err
    assert "Traceback" not in out + err
    assert out.count("(no story yet: type some sentences first)") == 2
    assert "Q: Where is Mary?   (no story yet" in out
    shown = answers(out)
    assert [a["question"] for a in shown] == ["Where is the zebra?", "Where is the wombat?"]
    assert shown[0]["note"] == "unknown words: zebra"
    assert shown[1]["note"] == "unknown words: wombat"
    check_attention(shown[0], ["Mary moved to the bathroom."])
    check_attention(shown[1], ["The wombat went to the garden."])


def test_ask_reads_stdin(trained, monkeypatch, capsys):
    run_dir, _, _ = trained
    monkeypatch.setattr(sys, "stdin", io.StringIO("Mary moved to the bathroom.\nWhere is Mary?\n"))
    code, out, err = run_cli(["ask", run_dir / "task01" / "checkpoint.safetensors"], capsys)
    assert code == 0, err
    assert "Type story sentences" not in out  # not a terminal: no prompt
    shown = answers(out)
    assert len(shown) == 1 and shown[0]["question"] == "Where is Mary?"
    check_attention(shown[0], ["Mary moved to the bathroom."])


# ------------------------------------------------------------------------------------------------------- resume


def epochs_in(last: Path) -> list[int]:
    _, meta = checkpoint.load(last)
    return [h["epoch"] for h in meta["state"]["history"]]


def same_weights(a: Path, b: Path) -> bool:
    ta, _ = checkpoint.load(a)
    tb, _ = checkpoint.load(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_resume_after_the_last_epoch_was_saved(trained, tmp_path, capsys):
    """The result files are lost, last.safetensors is not: --resume finishes from it without retraining."""
    original, _, _ = trained
    run_dir = tmp_path / "run"
    shutil.copytree(original, run_dir, ignore=shutil.ignore_patterns("eval.json"))
    (run_dir / "task01" / "result.json").unlink()
    (run_dir / "task01" / "checkpoint.safetensors").unlink()
    code, out, err = run_cli(["train", "--task", "1", *FAST, "--out", run_dir, "--resume"], capsys)
    assert code == 0, err
    assert epochs_in(run_dir / "task01" / "last.safetensors") == [0, 1, 2]  # 1 linear-start + 2 epochs, once each
    assert same_weights(run_dir / "task01" / "checkpoint.safetensors",
                        original / "task01" / "checkpoint.safetensors")
    assert (json.loads((run_dir / "results.json").read_text())["per_task"]
            == json.loads((original / "results.json").read_text())["per_task"])


def test_resume_after_an_interruption_matches_an_uninterrupted_run(trained, tmp_path, monkeypatch, capsys):
    original, _, _ = trained
    run_dir = tmp_path / "run"
    argv = ["train", "--task", "1", *FAST, "--out", run_dir]
    real_save = checkpoint.save

    def save_then_interrupt(path, tensors, meta):
        real_save(path, tensors, meta)
        if Path(path).name == "last.safetensors" and meta["state"]["epoch"] == 2:
            raise KeyboardInterrupt  # Ctrl-C after the second of three epochs was saved

    monkeypatch.setattr(checkpoint, "save", save_then_interrupt)
    code, out, err = run_cli(argv, capsys)
    assert code == 130
    assert "interrupted (continue with --resume)" in err and "Traceback" not in err
    assert epochs_in(run_dir / "task01" / "last.safetensors") == [0, 1]
    assert not (run_dir / "task01" / "checkpoint.safetensors").exists()
    assert not (run_dir / "results.json").exists()

    monkeypatch.setattr(checkpoint, "save", real_save)
    code, out, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0, err
    assert epochs_in(run_dir / "task01" / "last.safetensors") == [0, 1, 2]
    # The same weights, data order and noise as if never interrupted.
    assert same_weights(run_dir / "task01" / "checkpoint.safetensors",
                        original / "task01" / "checkpoint.safetensors")
    assert (json.loads((run_dir / "results.json").read_text())["per_task"]
            == json.loads((original / "results.json").read_text())["per_task"])


def resumable_copy(original: Path, run_dir: Path) -> Path:
    """A copy of a run whose task 1 was interrupted before it finished (no result.json)."""
    shutil.copytree(original, run_dir, ignore=shutil.ignore_patterns("eval.json"))
    (run_dir / "task01" / "result.json").unlink()
    return run_dir


@pytest.mark.parametrize("extra, key", [(["--embed-dim", "8"], "model_config.embed_dim = 20"),
                                        (["--ls-lr", "0.02"], "train_config.ls_lr = 0.005")])
def test_resume_with_different_options_is_refused(extra, key, trained, tmp_path, capsys):
    run_dir = resumable_copy(trained[0], tmp_path / "run")
    before = (run_dir / "task01" / "last.safetensors").read_bytes()
    code, out, err = run_cli(["train", "--task", "1", *FAST, *extra, "--out", run_dir, "--resume"], capsys)
    assert_one_line_error(code, out, err, key, "resume with the same options")
    assert (run_dir / "task01" / "last.safetensors").read_bytes() == before


def test_resume_with_different_data_is_refused(trained, tmp_path, capsys):
    run_dir = resumable_copy(trained[0], tmp_path / "run")
    code, out, err = run_cli(["train", "--task", "1", *FAST, "--questions", "70", "--out", run_dir, "--resume"],
                             capsys)
    assert_one_line_error(code, out, err, "data.questions = 64", "this run has 70")


def test_resume_of_a_finished_run_with_different_options_is_refused(trained, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(trained[0], run_dir, ignore=shutil.ignore_patterns("eval.json"))
    code, out, err = run_cli(["train", "--task", "1", *FAST, "--embed-dim", "8", "--out", run_dir, "--resume"],
                             capsys)
    assert_one_line_error(code, out, err, "result.json was written with model.embed_dim = 20")


# ----------------------------------------------------------------------------------------------------- generate


def test_generate_is_deterministic_and_readable_by_train(tmp_path, capsys):
    names = ["qa19_path-finding_test.txt", "qa19_path-finding_train.txt",
             "qa1_single-supporting-fact_test.txt", "qa1_single-supporting-fact_train.txt"]

    def generate(folder, seed):
        code, out, err = run_cli(["generate", "--task", "1,19", "--questions", "50", "--seed", seed,
                                  "--out", folder], capsys)
        assert code == 0, err
        assert f"wrote 4 files for 2 task(s) to {folder}" in out
        assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "memnets-generated.json"])
        return {name: (folder / name).read_bytes() for name in names}

    first = generate(tmp_path / "a", 3)
    assert generate(tmp_path / "b", 3) == first
    assert generate(tmp_path / "c", 4) != first
    questions = first["qa19_path-finding_train.txt"].decode().count("\t") // 2
    assert questions == 50

    # A generated folder is a bAbI directory: train reads it; a task it lacks is reported and skipped.
    code, out, err = run_cli(["train", "--data-dir", tmp_path / "a", "--task", "19,20", *FAST,
                              "--out", tmp_path / "run"], capsys)
    assert code == 0, err
    assert f"bAbI-format data generated by memnets (seed 3) in {tmp_path / 'a'}" in out
    assert "task 19: 45 train / 5 valid / 50 test questions" in out
    assert "task 20 not run" in out
    report = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(report["per_task"]) == ["19"] and list(report["tasks_not_run"]) == ["20"]
    assert report["data"]["source"] == "babi" and report["data"]["data_dir"] == str(tmp_path / "a")
    assert (tmp_path / "run" / "task19" / "checkpoint.safetensors").is_file()
    assert report["paper_column"] is None and report["data"]["generated"]["seed"] == 3  # never beside the paper
