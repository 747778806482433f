"""A Python generator of the 20 bAbI tasks (Weston et al. 2015, "Towards AI-Complete Question Answering").

``generate_task`` makes the records of one task; ``write_tasks`` writes them in the release's file layout, so every
reader of a bAbI directory reads generated data too. Output depends only on (seed, task, split), never on the order
tasks are generated in.
"""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from memnets.data.babi import TASK_NAMES, QARecord
from memnets.data.generator import distance
from memnets.data.generator.common import Knobs, Line, StoryMaker, format_story
from memnets.data.generator.logic_tasks import STORY_MAKERS as _LOGIC
from memnets.data.generator.world_tasks import STORY_MAKERS as _WORLD

STORY_MAKERS: dict[int, StoryMaker] = {**_WORLD, **_LOGIC}
MARKER = "memnets-generated.json"


def generate_task(task: int, n_questions: int, seed: int, split: str, knobs: Knobs | None = None) -> list[list[Line]]:
    """Stories of one task holding exactly ``n_questions`` questions (the last story is cut after the last one)."""
    if task not in STORY_MAKERS:
        raise ValueError(f"no generator for task {task}; tasks are 1-20")
    rng = random.Random(f"babi-{seed}-{task}-{split}")  # string seeds hash stably, independent of other tasks
    knobs = knobs or Knobs()
    distance.check(knobs, task)
    far = knobs.support_distance is not None  # a short story, then distractors (memnets.data.generator.distance)
    short = dataclasses.replace(knobs, story_length=None, support_distance=None) if far else knobs
    stories, count = [], 0
    while count < n_questions:
        story = STORY_MAKERS[task](rng, short)
        if far:
            story = distance.place_far(rng, story, knobs)
        kept = []
        for line in story:
            kept.append(line)
            if line.answer is not None:
                count += 1
                if count == n_questions:
                    break
        stories.append(kept)
    return stories


def generate_records(task: int, n_questions: int, seed: int, split: str,
                     knobs: Knobs | None = None) -> list[QARecord]:
    """The question records of ``generate_task``'s stories, built from its Lines without writing a file: the
    statements before each question, the question without the release's space before the tab, the answer as the
    reader keeps it (lower case), and the supports as 0-based indices into the statements."""
    records = []
    for story in generate_task(task, n_questions, seed, split, knobs):
        statements, index_of_line = [], {}
        for line_id, line in enumerate(story, start=1):
            if line.answer is None:
                index_of_line[line_id] = len(statements)
                statements.append(line.text.strip())
            else:
                supports = tuple(index_of_line[s] for s in line.supports)
                records.append(QARecord(tuple(statements), line.text.strip(), line.answer.lower(), supports, task))
    return records


def write_tasks(out: str | Path, tasks: list[int], n_questions: int, seed: int, knobs: Knobs | None = None,
                test_questions: int | None = None) -> list[Path]:
    """Write ``qaN_<name>_{train,test}.txt`` for each task into ``out``; returns the paths written.

    ``out`` also gets ``MARKER`` (the seed and knobs), so that readers know the folder is generated data and
    never report it beside published figures for the real tasks.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    marker = {"generator": "memnets", "seed": seed, "questions": n_questions, "knobs": dataclasses.asdict(knobs or Knobs())}
    (out / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    written = []
    for task in tasks:
        for split, n in (("train", n_questions), ("test", test_questions or n_questions)):
            path = out / f"qa{task}_{TASK_NAMES[task]}_{split}.txt"
            text = "".join(format_story(s) for s in generate_task(task, n, seed, split, knobs))
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)
    return written
