"""The bAbI reader: records from the release format, and one clear error for each kind of bad input."""
import io
import os
import tarfile
from pathlib import Path

import pytest
import torch

from memnets.data.babi import DataError, load_splits, parse_babi, parse_tasks, read_split, tokenize
from memnets.data.tensors import filled_rows, vectorize
from memnets.data.vocab import Vocab

STORY = """1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Sandra moved to the garden.
6 Where is Daniel? \thallway\t4
1 John picked up the apple.
2 John grabbed the football there.
3 What is John carrying? \tapple,football\t1 2
"""


def write_task(folder: Path, task: int, name: str, train: str, test: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"qa{task}_{name}_train.txt").write_text(train)
    (folder / f"qa{task}_{name}_test.txt").write_text(test if test is not None else train)


def test_records_hold_the_story_before_each_question():
    records = parse_babi(STORY, "s.txt", task=1)
    assert len(records) == 3
    first, second, third = records
    assert first.story == ("Mary moved to the bathroom.", "John went to the hallway.")
    assert (first.question, first.answer, first.supports) == ("Where is Mary?", "bathroom", (0,))
    # question lines are not statements: line 4 is the third statement of the story
    assert second.story[2] == "Daniel went back to the hallway." and second.supports == (2,)
    # a new story starts at id 1; list answers stay one comma-joined answer
    assert third.story == ("John picked up the apple.", "John grabbed the football there.")
    assert (third.answer, third.supports) == ("apple,football", (0, 1))


def test_tokenize_lowercases_and_strips_punctuation():
    assert tokenize("Where is Mary?") == ["where", "is", "mary"]
    assert tokenize("Mary moved to the bathroom.") == ["mary", "moved", "to", "the", "bathroom"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("1 Mary went home.\n2 Where is Mary?\n", "s.txt:2: question without a tab"),
    ("1 Mary went home.\n2 Where is Mary? \thome\t3\n", "s.txt:2: supporting id '3'"),
    ("1 Mary went home.\n2 Where is Mary? \thome\t2\n", "s.txt:2: supporting id '2'"),  # points at the question
    ("1 Mary went home.\n2 Where is Mary? \thome\n", "s.txt:2: expected '<question>"),
    ("1 Mary went home.\n3 Where is Mary? \thome\t1\n", "s.txt:2: line id 3 follows id 1"),
    ("Mary went home.\n", "s.txt:1: expected '<id> <sentence>'"),
    ("1 Mary went home.\n2 John went home.\n", "no questions"),
])
def test_bad_input_names_file_line_and_problem(text, message):
    with pytest.raises(DataError, match=message.replace("?", r"\?").replace("(", r"\(")):
        parse_babi(text, "s.txt", task=1)


def test_non_utf8_byte_is_reported_with_its_line(tmp_path):
    folder = tmp_path / "en"
    write_task(folder, 1, "single-supporting-fact", STORY)
    (folder / "qa1_single-supporting-fact_train.txt").write_bytes(b"1 Mary went home.\n2 Mary \xff left.\n")
    with pytest.raises(DataError, match=r"qa1_single-supporting-fact_train.txt:2: byte 0xff is not UTF-8"):
        read_split(tmp_path, 1, "train")


def test_missing_task_and_unknown_task_are_clear(tmp_path):
    write_task(tmp_path / "en", 1, "single-supporting-fact", STORY)
    with pytest.raises(DataError, match="no file for task 2"):
        read_split(tmp_path, 2, "train")
    with pytest.raises(DataError, match="task 21 does not exist"):
        read_split(tmp_path, 21, "train")
    with pytest.raises(DataError, match="not found"):
        read_split(tmp_path / "nowhere", 1, "train")


def test_reads_release_layout_flat_folder_and_tarball(tmp_path):
    write_task(tmp_path / "release" / "en", 1, "single-supporting-fact", STORY)
    write_task(tmp_path / "flat", 1, "single-supporting-fact", STORY)
    tarball = tmp_path / "tasks_1-20_v1-2.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        data = STORY.encode()
        info = tarfile.TarInfo("tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    expected = parse_babi(STORY, "x", 1)
    for root in (tmp_path / "release", tmp_path / "flat", tarball):
        assert read_split(root, 1, "train") == expected
    with pytest.raises(DataError, match="no file for task 1 \\(test\\)"):
        read_split(tarball, 1, "test")


def test_task_one_does_not_match_task_ten(tmp_path):
    write_task(tmp_path, 10, "indefinite-knowledge", STORY.replace("bathroom", "kitchen"))
    with pytest.raises(DataError, match="no file for task 1 "):
        read_split(tmp_path, 1, "train")


def test_validation_is_the_last_tenth_of_each_task(tmp_path):
    write_task(tmp_path, 1, "single-supporting-fact", STORY * 10)
    splits = load_splits(tmp_path, [1], "en", 0.1)
    assert len(splits["train"]) == 27 and len(splits["valid"]) == 3 and len(splits["test"]) == 30


def test_parse_tasks():
    assert parse_tasks("1") == [1]
    assert parse_tasks("3,1-2") == [1, 2, 3]
    assert parse_tasks("all") == list(range(1, 21))
    for bad in ("0", "21", "x", "1-x", "5-30"):
        with pytest.raises(DataError):
            parse_tasks(bad)


def test_vectorize_keeps_recent_memories_and_maps_unknown_words():
    records = parse_babi(STORY, "s.txt", task=1)
    vocab = Vocab.build(records[:1])
    batch = vectorize(records, vocab, memory_size=3)
    assert batch.story.shape[:2] == (3, 3)
    # second question: 4 statements, only the 3 most recent kept; its support (statement 2) is now slot 1
    assert batch.time[1].tolist() == [3, 2, 1]
    assert batch.supports[1, 0].item() == 1
    # time counts back from the question: the most recent statement is 1, empty slots 0
    assert batch.time[0].tolist() == [2, 1, 0]
    # words never seen in training map to <unk> (id 1) rather than failing
    daniel = vocab.encode(["daniel"])
    assert daniel == [1]
    assert batch.answer[2].item() == 1  # "apple,football" is not in this vocabulary
    assert (batch.story[0, 2] == 0).all()  # padding slot


def test_indexing_a_batch_takes_those_questions():
    batch = vectorize(parse_babi(STORY, "s.txt", task=1), Vocab.build(parse_babi(STORY, "s.txt", task=1)), 3)
    part = batch[torch.tensor([2, 0])]
    assert len(part) == 2
    assert torch.equal(part.time, batch.time[[2, 0]]) and torch.equal(part.answer, batch.answer[[2, 0]])
    assert torch.equal(part.tensors()["rows"], filled_rows(batch.time[[2, 0]]))  # derived again, not passed in


@pytest.mark.skipif(not os.environ.get("MEMNETS_TEST_BABI_DIR"), reason="MEMNETS_TEST_BABI_DIR not set")
def test_reads_every_real_task():
    root = os.environ["MEMNETS_TEST_BABI_DIR"]
    for task in range(1, 21):
        for split in ("train", "test"):
            records = read_split(root, task, split, "en")
            assert len(records) == 1000, (task, split)
            assert all(0 <= s < len(r.story) for r in records for s in r.supports)
    assert len(read_split(root, 1, "valid", "en-valid")) == 100
    with pytest.raises(DataError, match="no file for task 3 \\(train\\)"):
        read_split(root, 3, "train", "en-10k")  # absent from the shared copy: a clear message
    records = read_split(root, 1, "train")
    batch = vectorize(records, Vocab.build(records))
    assert torch.equal(batch.time > 0, batch.story.ne(0).any(-1))
