"""Shared pieces of the bAbI task generator: the line type, the knobs, and the file format.

Every task generator is a function ``make_story(rng, knobs) -> list[Line]`` that returns one story with its
questions interleaved, in the order the release prints them. Line ids are the 1-based positions in that list,
so ``Line.supports`` holds the positions of earlier *statement* lines (never question lines).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Line:
    """One line of a bAbI story: a statement (``answer is None``) or a question with its answer."""

    # "Mary moved to the bathroom." or "Where is Mary? ": a question keeps the release's spacing before the tab
    # (tasks 1-3 and 5-14 print "? <TAB>"; 4 and 15-20 print "?<TAB>"), so files match the release byte for byte
    text: str
    answer: str | None = None  # "bathroom"; lists and paths are comma-joined: "apple,football", "s,e"
    supports: tuple[int, ...] = ()  # 1-based ids of the statements that support the answer


@dataclass(frozen=True)
class Knobs:
    """Settings beyond the release, for harder data. ``None`` means "as in the release" for that task."""

    n_actors: int | None = None  # how many people the story may mention
    n_objects: int | None = None  # how many objects can be carried
    n_locations: int | None = None  # how many places exist
    story_length: int | None = None  # statements per story (distractors fill the gaps between support)
    n_supporting: int | None = None  # supporting facts per question, where the task allows it
    support_distance: int | str | None = None  # tasks 1-3: statements back to the oldest support, or "spread"
    # over the whole story_length, with distractors between (``memnets.data.generator.distance``)
    extra: dict = field(default_factory=dict)  # task-specific settings, documented by each task


StoryMaker = Callable[[random.Random, Knobs], list[Line]]


def format_story(story: list[Line]) -> str:
    """The release's text form: ``id text`` for statements, ``id question<TAB>answer<TAB>ids`` for questions."""
    out = []
    for i, line in enumerate(story, start=1):
        if line.answer is None:
            out.append(f"{i} {line.text}\n")
        else:
            ids = " ".join(str(s) for s in line.supports)
            out.append(f"{i} {line.text}\t{line.answer}\t{ids}\n")
    return "".join(out)
