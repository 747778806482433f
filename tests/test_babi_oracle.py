"""Check bAbI data with an independent rule-based reader (``tests/babi_oracle.py``).

(a) On the real release (``$MEMNETS_TEST_BABI_DIR/en``), the reader answers every question of all 20 tasks, train
    and test, from its supporting facts alone: it proves the reader right.
(b) On generated data (``memnets.data.generator``), the reader agrees with every answer, and supports are sound.
(c) Generation is deterministic and independent of the order tasks are generated in.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the oracle sits beside this module, tests/ or not a package
from babi_oracle import WHOLE_STORY_TASKS, OracleError, answer, story_answer

TASKS = list(range(1, 21))

# Measured on v1.2 en/ (train + test, 2,000 questions a task): the oracle answers every question of all 20 tasks
# from its supports, so every task is held to 100%. (Task 10 needs one convention of the release: "X is either in
# the school or the school." answers "maybe" to "Is X in the school?", 29 questions.)
RELEASE_MIN_ACCURACY = {task: 1.0 for task in TASKS}

# Tasks whose supports hold full histories rather than minimal sets: in the release, a question of task 7 or 8
# lists every pick-up and drop of the person, so one support can be left out and the count still comes out.
# For every other task the release's supports are minimal (each one is needed), measured on all 40,000 questions.
NON_MINIMAL_SUPPORT_TASKS = {7, 8}


def read_babi_file(path: Path) -> list[list[tuple[str, str | None, list[int]]]]:
    """Stories of a release file: each line is (text, answer or None, supporting ids)."""
    stories: list[list[tuple[str, str | None, list[int]]]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        number, rest = raw.split(" ", 1)
        if int(number) == 1:
            stories.append([])
        assert int(number) == len(stories[-1]) + 1, f"{path}: line ids out of sequence at {raw!r}"
        parts = rest.split("\t")
        if len(parts) == 1:
            stories[-1].append((parts[0], None, []))
        else:
            stories[-1].append((parts[0], parts[1], [int(i) for i in parts[2].split()]))
    return stories


def release_files(task: int) -> list[Path]:
    root = os.environ.get("MEMNETS_TEST_BABI_DIR")
    if not root:
        pytest.skip("set MEMNETS_TEST_BABI_DIR to the bAbI release (the folder holding en/) to run this test")
    found = sorted((Path(root) / "en").glob(f"qa{task}_*_t*.txt"))
    assert len(found) == 2, f"expected train and test files of task {task} in {root}/en, found {found}"
    return found


def oracle_or_error(read, task: int, question: str, facts: list[str]) -> str:
    try:
        return read(task, question, facts)
    except OracleError as err:
        return f"<oracle error: {err}>"


def check_question(task: int, story: list[tuple[str, str | None, list[int]]], pos: int) -> list[str]:
    """What is wrong with the question at 1-based line ``pos`` of ``story``, beyond the oracle's own answer:
    supports that are not earlier statements, an answer the whole story does not give, or a support that is not
    needed. Every check holds on all of the release's questions."""
    text, gold, supports = story[pos - 1]
    if not supports:
        return ["no supports"]
    bad = [s for s in supports if not 1 <= s < pos or story[s - 1][1] is not None]
    if bad:
        return [f"supports {bad} are not earlier statements"]
    problems = []
    if task in WHOLE_STORY_TASKS:
        statements = [line[0] for line in story[:pos - 1] if line[1] is None]
        whole = oracle_or_error(story_answer, task, text, statements)
        same = sorted(whole.split(",")) == sorted(gold.split(",")) if task == 8 else whole == gold
        if not same:
            problems.append(f"the whole story gives {whole!r}")
    if task not in NON_MINIMAL_SUPPORT_TASKS and len(supports) > 1:
        for s in supports:
            fewer = [story[i - 1][0] for i in supports if i != s]
            if oracle_or_error(answer, task, text, fewer) == gold:
                problems.append(f"support {s} is not needed")
    return problems


@pytest.mark.parametrize("task", TASKS)
def test_oracle_answers_release(task):
    total, wrong, unsound = 0, [], []
    for path in release_files(task):
        for story in read_babi_file(path):
            for pos, (text, gold, supports) in enumerate(story, start=1):
                if gold is None:
                    continue
                total += 1
                facts = [story[i - 1][0] for i in supports]
                got = oracle_or_error(answer, task, text, facts)
                if got != gold:
                    wrong.append((path.name, text, gold, got, facts))
                problems = check_question(task, story, pos)
                if problems:
                    unsound.append((path.name, text, gold, problems))
    assert total == 2000
    accuracy = 1 - len(wrong) / total
    assert accuracy >= RELEASE_MIN_ACCURACY[task], f"task {task}: {len(wrong)}/{total} wrong, e.g. {wrong[:3]}"
    assert not unsound, f"task {task}: {len(unsound)} questions fail the checks, e.g. {unsound[:3]}"


# ---------------------------------------------------------------------------------------------------------------
# Generated data
# ---------------------------------------------------------------------------------------------------------------

def generator():
    import memnets.data.generator as gen  # a broken generator package fails these tests; it is never skipped

    return gen


def require_task(gen, task: int) -> None:
    if task not in gen.STORY_MAKERS:
        pytest.skip(f"no generator registered for task {task} yet")


def story_text(story) -> str:
    return "".join(f"{i} {line.text}\t{line.answer}\t{line.supports}\n" if line.answer is not None
                   else f"{i} {line.text}\n" for i, line in enumerate(story, start=1))


@pytest.mark.parametrize("task", TASKS)
def test_oracle_agrees_with_generator(task):
    gen = generator()
    require_task(gen, task)
    stories = gen.generate_task(task, 300, seed=0, split="train")
    questions, disagreements = 0, []
    for story in stories:
        assert story, "empty story"
        rows = [(line.text, line.answer, list(line.supports)) for line in story]
        for pos, line in enumerate(story, start=1):
            if line.answer is None:
                assert not line.supports, f"task {task}: statement with supports: {line}"
                continue
            questions += 1
            assert line.answer and line.answer == line.answer.strip(), f"task {task}: bad answer {line.answer!r}"
            problems = check_question(task, rows, pos)
            facts = [story[s - 1].text for s in line.supports if 1 <= s <= len(story)]
            got = oracle_or_error(answer, task, line.text, facts)
            if got != line.answer:
                problems.insert(0, f"oracle says {got!r} from the supports")
            if problems:
                disagreements.append(f"{'; '.join(problems)}; generator says {line.answer!r}:\n"
                                     f"{story_text(story[:pos])}")
    assert questions == 300
    assert not disagreements, f"task {task}: {len(disagreements)} bad questions; first:\n{disagreements[0]}"


def _files(gen, out: Path, tasks: list[int], seed: int) -> dict[str, bytes]:
    paths = gen.write_tasks(out, tasks, 200, seed=seed)
    return {p.name: p.read_bytes() for p in paths}


@pytest.mark.parametrize("task", TASKS)
def test_generation_is_deterministic(task, tmp_path):
    gen = generator()
    require_task(gen, task)
    first = _files(gen, tmp_path / "a", [task], seed=7)
    again = _files(gen, tmp_path / "b", [task], seed=7)
    other = _files(gen, tmp_path / "c", [task], seed=8)
    assert sorted(first) == sorted(again) == sorted(other) and len(first) == 2
    assert first == again, f"task {task}: same seed, different bytes"
    for name in first:
        assert first[name] != other[name], f"task {task}: seeds 7 and 8 give the same {name}"
        assert first[name].strip(), f"task {task}: {name} is empty"
        # the files are in the release's format: ids restart at 1 per story and questions carry answer + supports
        for row in first[name].decode("utf-8").splitlines():
            assert re.match(r"^\d+ [^\t]+(\t[^\t]+\t\d+( \d+)*)?$", row), f"bad line {row!r} in {name}"
    # the files hold exactly what generate_task makes, read back by this module's own parser
    for split in ("train", "test"):
        (path,) = (tmp_path / "a").glob(f"qa{task}_*_{split}.txt")
        assert path.name == f"qa{task}_{gen.TASK_NAMES[task]}_{split}.txt"
        made = [[(line.text, line.answer, list(line.supports)) for line in story]
                for story in gen.generate_task(task, 200, seed=7, split=split)]
        assert read_babi_file(path) == made, f"task {task}: {path.name} does not read back as generated"


def test_generation_is_independent_of_task_order(tmp_path):
    gen = generator()
    for task in (1, 2):
        require_task(gen, task)
    forward = _files(gen, tmp_path / "fwd", [1, 2], seed=7)
    backward = _files(gen, tmp_path / "bwd", [2, 1], seed=7)
    assert len(forward) == 4
    assert forward == backward
