"""Tests of the world-simulation bAbI generators (tasks 1-3, 5-14): structure, determinism, knobs, and, when
MEMNETS_TEST_BABI_DIR points at the release (its en/ folder inside), statistics against the real files."""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from memnets.data.generator import TASK_NAMES, generate_task, write_tasks
from memnets.data.generator.common import Knobs
from memnets.data.generator.world_tasks import STORY_MAKERS

TASKS = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]

_LOC = r"(\w+)"
_NAME = r"([A-Z]\w*)"
_MOVE = r"(moved to|journeyed to|travelled to|went back to|went to)"
_GET = r"(got|took|grabbed|picked up)"
_DROP = r"(dropped|discarded|put down|left)"
_GIVE = r"(gave|handed|passed)"
_OBJ_STATEMENTS = [rf"{_NAME} {_MOVE} the {_LOC}\.", rf"{_NAME} {_GET} the {_LOC} there\.",
                   rf"{_NAME} {_DROP} the {_LOC}( there)?\."]
_CONN = r"(After that|Afterwards|Following that|Then)"
_TIME = r"(yesterday|this morning|this afternoon|this evening)"
_TIME_CAP = r"(Yesterday|This morning|This afternoon|This evening)"
_LOCS = {"bathroom", "bedroom", "kitchen", "hallway", "garden", "office"}
_LOCS_T = {"school", "park", "office", "kitchen", "cinema", "bedroom"}
_OBJS = {"football", "apple", "milk"}

# task -> (statement patterns, question patterns, answer check, supports per question (None: any))
SPEC = {
    1: ([rf"{_NAME} {_MOVE} the {_LOC}\."], [rf"Where is {_NAME}\? "], lambda a: a in _LOCS, 1),
    2: (_OBJ_STATEMENTS, [r"Where is the (\w+)\? "], lambda a: a in _LOCS, 2),
    3: ([rf"{_NAME} {_MOVE} the {_LOC}\.", rf"{_NAME} {_GET} the {_LOC}( there)?\.",
         rf"{_NAME} {_DROP} the {_LOC}( there)?\."], [r"Where was the (\w+) before the (\w+)\? "],
        lambda a: a in _LOCS, 3),
    5: (_OBJ_STATEMENTS + [rf"{_NAME} {_GIVE} the (\w+) to {_NAME}\."],
        [rf"What did {_NAME} give to {_NAME}\? ", r"Who received the (\w+)\? ", r"Who gave the (\w+)\? ",
         rf"Who did {_NAME} give the (\w+) to\? ", rf"Who gave the (\w+) to {_NAME}\? "],
        lambda a: a in _OBJS | {"Bill", "Fred", "Jeff", "Mary"}, 1),
    6: (_OBJ_STATEMENTS, [rf"Is {_NAME} in the (\w+)\? "], lambda a: a in ("yes", "no"), 1),
    7: (_OBJ_STATEMENTS + [rf"{_NAME} {_GIVE} the (\w+) to {_NAME}\."], [rf"How many objects is {_NAME} carrying\? "],
        lambda a: a in ("none", "one", "two", "three"), None),
    8: (_OBJ_STATEMENTS, [rf"What is {_NAME} carrying\? "],
        lambda a: a == "nothing" or (set(a.split(",")) <= _OBJS and len(set(a.split(","))) == len(a.split(","))),
        None),
    9: ([rf"{_NAME} {_MOVE} the {_LOC}\.", rf"{_NAME} is (not |no longer )?in the {_LOC}\."],
        [rf"Is {_NAME} in the (\w+)\? "], lambda a: a in ("yes", "no"), 1),
    10: ([rf"{_NAME} {_MOVE} the {_LOC}\.", rf"{_NAME} is in the {_LOC}\.",
          rf"{_NAME} is either in the {_LOC} or the {_LOC}\."], [rf"Is {_NAME} in the (\w+)\? "],
         lambda a: a in ("yes", "no", "maybe"), 1),
    11: ([rf"{_NAME} {_MOVE} the {_LOC}\.", rf"{_CONN} (he|she) {_MOVE} the {_LOC}\."], [rf"Where is {_NAME}\? "],
         lambda a: a in _LOCS, 2),
    12: ([rf"{_NAME} and {_NAME} {_MOVE} the {_LOC}\."], [rf"Where is {_NAME}\? "], lambda a: a in _LOCS, 1),
    13: ([rf"{_NAME} and {_NAME} {_MOVE} the {_LOC}\.", rf"{_CONN} they {_MOVE} the {_LOC}\."],
         [rf"Where is {_NAME}\? "], lambda a: a in _LOCS, 2),
    14: ([rf"{_NAME} {_MOVE} the {_LOC} {_TIME}\.", rf"{_TIME_CAP} {_NAME} {_MOVE} the {_LOC}\."],
         [rf"Where was {_NAME} before the (\w+)\? "], lambda a: a in _LOCS_T, 2),
}


def _matches(patterns, text):
    return any(re.fullmatch(p, text) for p in patterns)


@pytest.mark.parametrize("task", TASKS)
def test_structure(task):
    statements, questions, answer_ok, n_sup = SPEC[task]
    stories = generate_task(task, 300, 0, "train")
    assert sum(1 for s in stories for line in s if line.answer is not None) == 300
    for story in stories:
        for i, line in enumerate(story, start=1):
            if line.answer is None:
                assert _matches(statements, line.text), (task, line.text)
                continue
            assert _matches(questions, line.text), (task, line.text)
            assert answer_ok(line.answer), (task, line.text, line.answer)
            assert line.supports, (task, line)
            if n_sup is not None:
                assert len(line.supports) == n_sup, (task, line)
            for s in line.supports:
                assert 1 <= s < i and story[s - 1].answer is None, (task, i, line)


def test_answers_follow_from_story():
    """Spot checks of the semantics: task 1 answers are the asked actor's last move; task 8 lists match."""
    for story in generate_task(1, 200, 3, "train"):
        for i, line in enumerate(story, start=1):
            if line.answer is not None:
                actor = line.text.split()[2].rstrip("?")
                last = [s for s in story[:i - 1] if s.answer is None and s.text.startswith(actor + " ")][-1]
                assert last.text.rstrip(".").split()[-1] == line.answer
                assert story[line.supports[0] - 1] is last
    for story in generate_task(7, 200, 3, "train"):
        for line in story:
            if line.answer is not None:
                assert line.supports == tuple(sorted(line.supports))


def test_negation_names_the_place_last_stated():
    """Task 9, as in the release: "Mary is not in the kitchen." right after she was placed there names the kitchen
    (never another place); after a negation the next one names another place than the last negated."""
    for story in generate_task(9, 500, 0, "train"):
        last: dict[str, tuple[bool, str]] = {}  # actor -> (placed, place) of their last statement
        for line in story:
            if line.answer is not None:
                continue
            words = line.text.rstrip(".").split()
            actor, place, negated = words[0], words[-1], " not " in line.text or " no longer " in line.text
            if negated and actor in last:
                placed, before = last[actor]
                assert (place == before) == placed, (line.text, last[actor])
            last[actor] = (not negated, place)


def test_counting_asks_only_about_people_who_acted():
    """Task 7, as in the release: a question is about someone who took, dropped or gave something, never about a
    person who has only been handed things (such a person's supports would all be gives to them)."""
    give = re.compile(rf"{_NAME} {_GIVE} the (\w+) to {_NAME}\.")
    for story in generate_task(7, 500, 0, "train"):
        for line in story:
            if line.answer is not None:
                actor = line.text.split()[4]
                assert any(not (m := give.fullmatch(story[s - 1].text)) or m.group(1) == actor
                           for s in line.supports), line


@pytest.mark.parametrize("task", TASKS)
def test_deterministic(task, tmp_path):
    a = write_tasks(tmp_path / "a", [task], 200, 7)
    b = write_tasks(tmp_path / "b", [task], 200, 7)
    c = write_tasks(tmp_path / "c", [task], 200, 8)
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()
    assert a[0].name == f"qa{task}_{TASK_NAMES[task]}_train.txt"


def test_global_random_untouched():
    random.seed(123)
    expected = random.random()
    random.seed(123)
    for task in TASKS:
        generate_task(task, 50, 0, "train")
    assert random.random() == expected


@pytest.mark.parametrize("task", [1, 2, 3, 5, 6, 7, 8, 9, 10, 12])
def test_story_length_knob(task):
    knobs = Knobs(story_length=60, n_actors=6, n_locations=8)
    stories = generate_task(task, 40, 0, "train", knobs)
    for story in stories[:-1]:  # the last story may be cut after the last question asked
        assert sum(1 for line in story if line.answer is None) == 60
    names = {w for s in stories for line in s for w in line.text.rstrip(".? ").split() if w[0].isupper()}
    assert len(names) > 4


def test_story_length_pairs_and_time():
    for task in (11, 13):
        for story in generate_task(task, 20, 0, "train", Knobs(story_length=40))[:-1]:
            assert sum(1 for line in story if line.answer is None) == 40
    with pytest.raises(ValueError, match="story_length"):
        STORY_MAKERS[11](random.Random(0), Knobs(story_length=41))
    with pytest.raises(ValueError, match="story_length"):
        STORY_MAKERS[14](random.Random(0), Knobs(story_length=100))


def test_n_supporting_knob():
    for task in (7, 8):
        for story in generate_task(task, 100, 0, "train", Knobs(n_supporting=3)):
            assert all(len(line.supports) == 3 for line in story if line.answer is not None)


@pytest.mark.parametrize("knobs", [Knobs(n_locations=1), Knobs(n_actors=0), Knobs(story_length=1),
                                   Knobs(n_objects=0), Knobs(n_supporting=0)])
def test_bad_knobs(knobs):
    with pytest.raises(ValueError):
        STORY_MAKERS[7](random.Random(0), knobs)
    with pytest.raises(ValueError, match="n_actors"):
        STORY_MAKERS[12](random.Random(0), Knobs(n_actors=1))


def test_speed():
    import time
    t0 = time.perf_counter()
    generate_task(1, 10000, 0, "train")
    assert time.perf_counter() - t0 < 5


# ---- against the real release ---------------------------------------------------------------------------------
BABI = os.environ.get("MEMNETS_TEST_BABI_DIR")
needs_release = pytest.mark.skipif(not BABI, reason="MEMNETS_TEST_BABI_DIR not set")


def _release_file(task, split):
    root = Path(BABI)
    root = root / "en" if (root / "en").is_dir() else root
    return root / f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


def _stories(text):
    stories = []
    for line in text.splitlines():
        i, rest = line.split(" ", 1)
        if i == "1":
            stories.append([])
        stories[-1].append(rest)
    return stories


def _vocab(text):
    words = set()
    for line in text.splitlines():
        for part in line.split("\t")[:2]:
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+", part))
    return words


@needs_release
@pytest.mark.parametrize("task", TASKS)
def test_statistics_match_release(task, tmp_path):
    real = _release_file(task, "train").read_text()
    paths = write_tasks(tmp_path, [task], 2000, 0)
    gen = paths[0].read_text() + paths[1].read_text()
    real_st, gen_st = _stories(real), _stories(paths[0].read_text())

    def per_story(stories, is_q):
        return sum(sum(1 for x in s if ("\t" in x) == is_q) for s in stories) / len(stories)

    real_s, gen_s = per_story(real_st, False), per_story(gen_st, False)
    assert abs(gen_s - real_s) <= 0.2 * real_s + 0.5, (task, real_s, gen_s)
    assert abs(per_story(gen_st[:-1], True) - per_story(real_st, True)) < 0.5
    missing = _vocab(_release_file(task, "test").read_text()) - _vocab(gen)
    assert not missing, (task, missing)
