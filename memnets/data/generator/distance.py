"""Long memories (memnets issue #11): stories whose supporting facts lie far back from their question.

With ``Knobs.support_distance`` a task's usual short story is cut after its first question and padded with
distractor statements: enough between the last statement and the question that the question's *oldest* supporting
fact lies the asked number of statements back, and the rest before the story, up to ``story_length`` statements.
Distractors are moves of people the story never mentions (``distractor_actors``) between the story's own places,
so they read like any other statement yet never touch an entity a question depends on: the answer, and every
supporting fact, stays what the short story determined.

The distance of a question is counted as the issue measures it: the number of statements from its oldest
supporting fact to the question, that fact included (a fact just before the question is at distance 1).
"""
from __future__ import annotations

import random

from memnets.data.generator.common import Knobs, Line
from memnets.data.generator.world import (_EXTRA_ACTORS, ACTORS, LOCATIONS, MOVE_VERBS, actor_names,
                                          location_names)

TASKS = (1, 2, 3)  # the world tasks the long-memory benchmark uses; their people and places are ACTORS, LOCATIONS
DISTRACTOR_ACTORS = 4  # people who only ever move about, in distractors


def check(knobs: Knobs, task: int) -> None:
    """Raise ValueError naming a bad ``support_distance`` (an int >= 1 or "spread") or a task without it."""
    value = knobs.support_distance
    if value is None:
        return
    if task not in TASKS:
        raise ValueError(f"task {task}: support_distance is available for tasks {', '.join(map(str, TASKS))}")
    if value != "spread" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"support_distance={value!r} is invalid; expected an int >= 1 or 'spread'")
    if value == "spread" and knobs.story_length is None:
        raise ValueError("support_distance='spread' spreads supports over the whole story: it needs story_length")


def distractor_actors(knobs: Knobs) -> tuple[str, ...]:
    """People who appear only in distractors: the first names of the extra pool that the story does not use."""
    used = set(actor_names(ACTORS, knobs.n_actors))
    return tuple(name for name, _ in _EXTRA_ACTORS if name not in used)[:DISTRACTOR_ACTORS]


def distance(story: list[Line], question: int) -> int:
    """Statements from the oldest support of the question at (0-based) line ``question`` to it, that one included."""
    oldest = min(story[question].supports) - 1  # 0-based line of the oldest supporting fact
    return sum(line.answer is None for line in story[oldest:question])


def place_far(rng: random.Random, story: list[Line], knobs: Knobs) -> list[Line]:
    """The story up to its first question, with distractors so that the question's oldest support lies
    ``knobs.support_distance`` statements back (or at a distance drawn uniformly over what ``story_length``
    allows, for "spread"), and ``story_length`` statements in all when that is set. A short story whose support is
    already farther back than asked keeps its own distance."""
    first = next(i for i, line in enumerate(story) if line.answer is not None)
    core, question = story[:first], story[first]
    near = distance(story, first)
    total = max(knobs.story_length or 0, len(core))
    if knobs.support_distance == "spread":
        target = rng.randint(near, max(near, total - len(core) + near))
    else:
        target = knobs.support_distance
    gap = max(0, target - near)
    before = max(0, total - len(core) - gap)
    people, places = distractor_actors(knobs), location_names(LOCATIONS, knobs.n_locations)
    where = {p: rng.choice(places) for p in people}

    def distractors(n: int) -> list[Line]:
        lines = []
        for _ in range(n):
            person = rng.choice(people)
            where[person] = rng.choice([p for p in places if p != where[person]])
            lines.append(Line(f"{person} {rng.choice(MOVE_VERBS)} the {where[person]}."))
        return lines

    head = distractors(before)
    shift = len(head)  # line ids of the story's own statements move down by the distractors before them
    moved = [*head, *core, *distractors(gap)]
    return [*moved, Line(question.text, question.answer, tuple(s + shift for s in question.supports))]
