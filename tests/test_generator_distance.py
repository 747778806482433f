"""The long-memory knob (issue #11): ``Knobs.support_distance`` puts a question's oldest supporting fact a given
number of statements back (or spreads that distance over the whole story) with distractors between; the
rule-based reader of tests/babi_oracle.py keeps agreeing with every answer, and no distractor mentions anything
the question depends on."""
from __future__ import annotations

import statistics

import pytest

from babi_oracle import answer, story_answer
from memnets.data.babi import tokenize
from memnets.data.generator import Knobs, generate_task, write_tasks
from memnets.data.generator.distance import distance, distractor_actors
from test_babi_oracle import check_question
from test_cli import run_cli


def questions(task: int, knobs: Knobs, n: int = 100):
    """(story, 0-based index of its question) for the n questions of ``task``."""
    for story in generate_task(task, n, seed=3, split="train", knobs=knobs):
        yield story, next(i for i, line in enumerate(story) if line.answer is not None)


@pytest.mark.parametrize("task", [1, 2, 3])
def test_fixed_distance(task):
    knobs = Knobs(support_distance=40)
    found = [distance(story, q) for story, q in questions(task, knobs)]
    assert found == [40] * 100  # the short stories' own distances are all below 40


@pytest.mark.parametrize("task", [1, 2, 3])
def test_spread_distance_covers_the_story(task):
    knobs = Knobs(story_length=300, support_distance="spread")
    stories = list(questions(task, knobs, 200))
    assert all(sum(line.answer is None for line in s) == 300 for s, _ in stories)
    found = [distance(s, q) for s, q in stories]
    # uniform over (near, 300]: the median near the middle, the extremes near both ends
    assert 110 < statistics.median(found) < 190 and min(found) < 30 and max(found) > 270


@pytest.mark.parametrize("task", [1, 2, 3])
@pytest.mark.parametrize("knobs", [Knobs(support_distance=60), Knobs(story_length=150, support_distance="spread")])
def test_oracle_agrees_and_distractors_touch_nothing_asked(task, knobs):
    stranger = {name.lower() for name in distractor_actors(knobs)}
    for story, q in questions(task, knobs):
        rows = [(line.text, line.answer, list(line.supports)) for line in story]
        line = story[q]
        facts = [story[s - 1].text for s in line.supports]
        assert answer(task, line.text, facts) == line.answer
        assert check_question(task, rows, q + 1) == []  # supports sound; the whole story gives the same answer
        statements = [x.text for x in story[:q]]
        assert story_answer(task, line.text, statements) == line.answer
        asked = (set(tokenize(line.text)) | {w for f in facts for w in tokenize(f)}) & ENTITIES
        assert asked  # every question depends on a person or an object
        for s in statements:
            words = set(tokenize(s))
            if words & stranger:  # a distractor: one stranger moving, naming no one and nothing of the story
                assert len(words & stranger) == 1 and not words & ENTITIES, s
                assert len(words - stranger - MOVE_WORDS) == 1 and words & LOCATIONS, s


PEOPLE, OBJECTS = {"mary", "john", "daniel", "sandra"}, {"football", "apple", "milk"}  # the release's, tasks 1-3
ENTITIES = PEOPLE | OBJECTS
LOCATIONS = {"bathroom", "bedroom", "kitchen", "hallway", "garden", "office"}
MOVE_WORDS = {"moved", "to", "journeyed", "travelled", "went", "back", "the"}


@pytest.mark.parametrize("knobs, message", [(Knobs(support_distance=0), "support_distance"),
                                            (Knobs(support_distance="far"), "support_distance"),
                                            (Knobs(support_distance="spread"), "story_length")])
def test_bad_distance_knobs(knobs, message):
    with pytest.raises(ValueError, match=message):
        generate_task(1, 5, 0, "train", knobs)


def test_other_tasks_refuse_the_knob():
    with pytest.raises(ValueError, match="tasks 1, 2, 3"):
        generate_task(5, 5, 0, "train", Knobs(support_distance=10))


def test_release_like_stories_unchanged(tmp_path):
    """Without the knob the generator writes what it wrote before (the knob only post-processes stories)."""
    plain, default = tmp_path / "a", tmp_path / "b"
    write_tasks(plain, [2], 50, seed=1)
    write_tasks(default, [2], 50, seed=1, knobs=Knobs(support_distance=None))
    name = "qa2_two-supporting-facts_train.txt"
    assert (plain / name).read_bytes() == (default / name).read_bytes()


def test_cli_generate_support_distance(tmp_path, capsys):
    code, out, err = run_cli(["generate", "--task", "1", "--questions", "20", "--story-length", "100",
                              "--support-distance", "spread", "--out", tmp_path], capsys)
    assert code == 0, err
    text = (tmp_path / "qa1_single-supporting-fact_train.txt").read_text()
    assert text.count("?") == 20 and len(text.splitlines()) == 20 * 101
    code, out, err = run_cli(["generate", "--task", "1", "--support-distance", "0", "--out", tmp_path], capsys)
    assert code == 2 and "support-distance" in err
