"""Fuzzing the readers: the contracts of tests/test_reliability.py on many more inputs, from a seeded generator.

    python benchmarks/fuzz.py

Each reader target gets EXAMPLES inputs: valid ones (which must read back exactly), valid ones with one line or byte
broken, and random ones. A target's contract is that it returns a result or raises its memnets error (DataError,
CheckpointError) as one line naming the file, and the line where one is at fault. A crash is any other exception;
a contract violation is a memnets error whose message breaks that form, or a valid input read back wrong.

Two more targets run whole stages: generated folders (``write_tasks`` with random knobs, then files deleted,
truncated or a line or bytes changed, read by ``load_splits``: the generated records back exactly, or one DataError
naming a damaged file), and ``memnets ask CHECKPOINT`` through the in-process CLI for both models, on random text
given with ``--file`` and on standard input: exit 0 having answered every question, or exit 2 with one
"memnets ask: error:" line; a crash is an exception escaping ``memnets.cli.main`` (what a user sees as a
traceback). Writes docs/results/fuzz.json and fuzz.md.
"""
from __future__ import annotations

import contextlib
import io
import json
import random
import re
import shutil
import struct
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes

from memnets import checkpoint
from memnets.cli import main as memnets_main
from memnets.data.babi import TASK_NAMES, DataError, QARecord, decode, load_splits, parse_babi, read_split
from memnets.data.generator import Knobs, generate_records, write_tasks
from memnets.data.vocab import Vocab
from memnets.models.memn2n import MemN2N, MemN2NConfig
from run import RESULTS, machine  # benchmarks/run.py, beside this script

EXAMPLES = 2000  # inputs per reader target
FOLDER_EXAMPLES = 2000  # generated folders (each one written, damaged and read)
ASK_EXAMPLES = 1000  # `memnets ask` inputs per model, each run twice (--file and standard input)
SEED = 0
SOURCE = "s.txt"
MEMBER = "tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt"

# Characters the random text draws on: plain words, the format's separators, digits that str.isdigit accepts but
# int() does not (or does), line breaks str.splitlines knows but "\n" does not, other scripts, a BOM, controls.
ALPHABET = ("abcdefghijklmnopqrstuvwxyzMJ", "0123456789", " \t\n\r?.,-", "²٣", "\x0b\x0c\x1c\x85\u2028",
            "éßİ日本語Ωж🙂", "\ufeff\x00\x7f")


class Violation(Exception):
    """A memnets error of the wrong form, or a valid input read back wrong."""


def random_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(rng.choice(ALPHABET)) for _ in range(size))


def random_word(rng: random.Random) -> str:
    # No whitespace or "?", so that a sentence written out reads back the same (as the tests' WORD strategy).
    letters = "abcdefghijklmnopqrstuvwxyzMJ0123456789.,-'éßİ日本語Ωж🙂²٣"
    return "".join(rng.choice(letters) for _ in range(rng.randint(1, 6)))


def random_babi(rng: random.Random) -> tuple[list[str], list[QARecord], list[int]]:
    """Lines of a valid bAbI file, the records it parses into, and the indices of its question lines."""
    lines, records, questions = [], [], []
    for _ in range(rng.randint(1, 3)):
        statements, ids = [], []
        length = rng.randint(1, 8)
        for line_id in range(1, length + 1):
            sentence = " ".join(random_word(rng) for _ in range(rng.randint(1, 5)))
            if line_id < length and rng.random() < 0.6:
                statements.append(sentence)
                ids.append(line_id)
                lines.append(f"{line_id} {sentence}")
                continue
            question, answer = sentence + "?", random_word(rng)
            picks = [rng.randrange(len(statements)) for _ in range(rng.randint(0, 3))] if statements else []
            questions.append(len(lines))
            lines.append(f"{line_id} {question} \t{answer}\t{' '.join(str(ids[p]) for p in picks)}")
            records.append(QARecord(tuple(statements), question, answer.lower(), tuple(picks), 1))
    return lines, records, questions


def check_data_error(err: DataError, text: str, at_least: int = 1, exactly: int | None = None) -> None:
    message = str(err)
    match = re.match(rf"{re.escape(SOURCE)}(?::(\d+))?: ", message)
    if "\n" in message or not match:
        raise Violation(f"malformed message {message[:120]!r}")
    if match.group(1) is not None:
        line = int(match.group(1))
        if not at_least <= line <= len(text.split("\n")) or (exactly is not None and line != exactly):
            raise Violation(f"names line {line}, expected {exactly or f'{at_least}..'}: {message[:120]!r}")
    elif exactly is not None:
        raise Violation(f"names no line, expected line {exactly}: {message[:120]!r}")


def fuzz_parser(rng: random.Random):
    """One parse_babi input: its kind, and the check that runs the parser on it."""
    lines, records, questions = random_babi(rng)
    kind = rng.choice(["valid", "broken line", "damaged", "random"])
    if kind == "valid":
        for _ in range(rng.randint(0, 3)):
            lines.insert(rng.randint(0, len(lines)), rng.choice(["", " ", "\t", "\u3000"]))
        end = rng.choice(["\n", "\r\n"])
        text = end.join(lines) + end

        def check() -> bool:
            if parse_babi(text, SOURCE, 1) != records:
                raise Violation("a valid file read back different records")
            return True
    elif kind == "broken line":
        index = rng.choice(questions)
        head, _, rest = lines[index].partition(" ")
        question, answer, supports = rest.split("\t")
        previous = int(lines[index - 1].split(" ")[0]) if index else 0
        rest = rng.choice([
            question + " " + answer + " " + supports,  # tabs lost
            f" \t{answer}\t{supports}", f"{question}\t \t{supports}", f"{rest}\textra",
            f"{rest} {rng.choice(['²', '٣', 'x', '-1', '9' * 5000, head, str(int(head) + 1)])}",
            rest])
        if rest == lines[index].partition(" ")[2]:  # the line is kept: break its id instead
            head = rng.choice(["²", "٣", "", "x", "1.0", "9" * 19, "9" * 5000,
                               str(rng.choice([n for n in (0, previous + 2, previous + 7, 10**30) if n != 1]))])
        lines[index] = f"{head} {rest}"
        text = "\n".join(lines) + "\n"

        def check() -> bool:
            try:
                parse_babi(text, SOURCE, 1)
            except DataError as err:
                check_data_error(err, text, exactly=index + 1)
                return False
            raise Violation(f"line {index + 1} broken as {lines[index][:60]!r} was accepted")
    else:
        if kind == "random":
            text, position = random_text(rng, rng.randint(0, 200)), 0
        else:
            text = "\n".join(lines) + "\n"
            position = rng.randint(0, len(text))
            junk = random_text(rng, rng.randint(0, 20))
            text = rng.choice([text[:position], text[:position] + junk + text[position + 1:],
                               text[:position] + junk + text[position:]])

        def check() -> bool:
            try:
                parse_babi(text, SOURCE, 1)
            except DataError as err:
                check_data_error(err, text, at_least=text[:position].count("\n") + 1)
                return False
            return True
    return kind, check


def fuzz_decode(rng: random.Random):
    kind = rng.choice(["utf-8", "damaged utf-8", "random bytes"])
    if kind == "random bytes":
        data = rng.randbytes(rng.randint(0, 200))
    else:
        data = random_text(rng, rng.randint(0, 100)).encode("utf-8")
        if kind == "damaged utf-8" and data:
            position = rng.randrange(len(data))
            data = data[:position] + bytes([rng.randrange(256)]) + data[position + 1:]

    def check() -> bool:
        try:
            text = decode(data, SOURCE)
        except DataError as err:
            # "\n" never sits inside a UTF-8 sequence: the first line that does not decode alone is the one to name.
            first_bad = next(i for i, line in enumerate(data.split(b"\n"), start=1) if not utf8(line))
            if not str(err).startswith(f"{SOURCE}:{first_bad}: byte 0x"):
                raise Violation(f"expected line {first_bad}: {str(err)[:120]!r}") from None
            return False
        if text.encode("utf-8") != data:
            raise Violation("decoded text differs from the bytes")
        return True
    return kind, check


def utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def tar_bytes(members: dict[str, bytes], compression: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fuzz_archive(rng: random.Random, path: Path, good: dict[str, bytes]):
    kind = rng.choice(["random bytes", "damaged tar.gz", "damaged tar"])
    if kind == "random bytes":
        content = rng.randbytes(rng.randint(0, 2000))
    else:
        content = good["gz" if kind == "damaged tar.gz" else ""]
        position = rng.randrange(len(content))
        content = rng.choice([
            content[:position],
            content[:position] + bytes([content[position] ^ rng.randint(1, 255)]) + content[position + 1:],
            content[:position] + rng.randbytes(rng.randint(1, 64)) + content[position:]])
    path.write_bytes(content)

    def check() -> bool:
        try:
            read_split(path, 1, "train")
        except DataError as err:
            if "\n" in str(err) or not str(err).startswith(str(path)):
                raise Violation(f"malformed message {str(err)[:120]!r}") from None
            return False
        return True
    return kind, check


def random_json(rng: random.Random, depth: int = 0):
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice([0, 1, -1, 3, 4, 20, 10**15, -(10**20), 10**40])
    if choice == 3:
        return rng.choice([0.0, 0.5, -1.5, 1e300, float("nan"), float("inf")])
    if choice in (4, 5):
        return random_text(rng, rng.randint(0, 10))
    if choice == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng, rng.randint(0, 6)): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


VOCAB = Vocab(["<nil>", "<unk>", "mary", "garden"])
CONFIG = MemN2NConfig(vocab_size=len(VOCAB), embed_dim=3, hops=2, memory_size=4, encoding="position")


def valid_checkpoint() -> tuple[dict[str, torch.Tensor], dict]:
    torch.manual_seed(0)
    return MemN2N(CONFIG).state_dict(), json.loads(json.dumps(checkpoint.model_meta("memn2n", CONFIG, VOCAB)))


def random_meta(rng: random.Random) -> dict:
    """Plain random JSON, or a valid checkpoint's metadata with a few values changed."""
    if rng.random() < 0.3:
        return {rng.choice(["model", "config", "vocab", "state", "data", "x"]): random_json(rng)
                for _ in range(rng.randint(0, 4))}
    meta = valid_checkpoint()[1]
    for _ in range(rng.randint(0, 3)):
        meta["config"][rng.choice([*meta["config"], "unknown"])] = random_json(rng)
    if rng.random() < 0.3:
        meta[rng.choice(["model", "config", "vocab"])] = random_json(rng)
    return meta


def check_checkpoint_error(err: checkpoint.CheckpointError, path: Path) -> None:
    if "\n" in str(err) or str(path) not in str(err):
        raise Violation(f"malformed message {str(err)[:120]!r}")


def fuzz_load_model(rng: random.Random, path: Path):
    tensors, _ = valid_checkpoint()
    meta = random_meta(rng)
    kind = "random metadata"
    if rng.random() < 0.3:
        kind = "random metadata, a tensor reshaped"
        name = rng.choice(list(tensors))
        tensors[name] = torch.zeros([rng.randint(0, 5) for _ in range(rng.randint(0, 3))])
    checkpoint.save(path, tensors, meta)

    def check() -> bool:
        try:
            _, _, loaded = checkpoint.load_model(path)
        except checkpoint.CheckpointError as err:
            check_checkpoint_error(err, path)
            return False
        if json.dumps(loaded, sort_keys=True) != json.dumps(meta, sort_keys=True):
            raise Violation("the metadata read back differs")
        return True
    return kind, check


DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "C64",
          "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "XX"]


def fuzz_load(rng: random.Random, path: Path, good: bytes):
    kind = rng.choice(["random bytes", "random header", "damaged checkpoint"])
    if kind == "random bytes":
        content = rng.randbytes(rng.randint(0, 600))
    elif kind == "random header":
        header = {name: {"dtype": rng.choice(DTYPES), "shape": [rng.randint(0, 6) for _ in range(rng.randint(0, 3))],
                         "data_offsets": sorted([rng.randint(0, 64), rng.randint(0, 64)])}
                  for name in rng.sample(["embed", "temporal", "w"], rng.randint(0, 3))}
        if rng.random() < 0.7:
            header["__metadata__"] = {"memnets": rng.choice([random_text(rng, 20), json.dumps(random_meta(rng))])}
        raw = json.dumps(header).encode()
        length = len(raw) if rng.random() < 0.8 else rng.randrange(2**64)
        content = struct.pack("<Q", length) + raw + rng.randbytes(rng.randint(0, 64))
    else:
        position = rng.randrange(len(good))
        content = rng.choice([
            good[:position],
            good[:position] + bytes([good[position] ^ rng.randint(1, 255)]) + good[position + 1:],
            good[:position] + rng.randbytes(rng.randint(1, 16)) + good[position:]])
    path.write_bytes(content)

    def check() -> bool:  # accepted: the file loads as a model
        try:
            checkpoint.load(path)
            checkpoint.load_model(path)
        except checkpoint.CheckpointError as err:
            check_checkpoint_error(err, path)
            return False
        return True
    return kind, check


# --------------------------------------------------------------------------------------- generated folders




def random_knobs(rng: random.Random) -> Knobs:
    def knob(hi: int) -> int | None:
        return None if rng.random() < 0.5 else rng.randint(0, hi)
    return Knobs(n_actors=knob(14), n_objects=knob(14), n_locations=knob(14), story_length=knob(30),
                 n_supporting=knob(6))


def damage_file(rng: random.Random, path: Path, kind: str) -> int | None:
    """Damage one generated file; returns the first line that may now be at fault (None: the file is deleted)."""
    if kind == "file deleted":
        path.unlink()
        return None
    data = path.read_bytes()
    position = rng.randint(0, len(data))
    first = data[:position].count(b"\n") + 1
    if kind == "file truncated":
        path.write_bytes(data[:position])
    elif kind == "bytes inserted":
        path.write_bytes(data[:position] + rng.randbytes(rng.randint(1, 4)) + data[position:])
    else:  # a line replaced by random text, deleted or duplicated
        lines = data.decode("utf-8").split("\n")
        index = min(first - 1, len(lines) - 1)
        lines[index:index + 1] = rng.choice([[random_text(rng, rng.randint(0, 30))], [], [lines[index]] * 2])
        path.write_text("\n".join(lines), encoding="utf-8")
        first = index + 1
    return first


def fuzz_folder(rng: random.Random, root: Path):
    """A folder written by the generator (random tasks, seed, question counts, knobs), valid or damaged."""
    folder = root / "generated"
    shutil.rmtree(folder, ignore_errors=True)
    tasks = sorted(rng.sample(range(1, 21), rng.randint(1, 2)))
    seed, questions, test_questions = rng.randrange(10**6), rng.randint(1, 8), rng.choice([None, rng.randint(1, 8)])
    for _ in range(20):  # knobs a task cannot honour are refused by write_tasks (ValueError): draw others
        knobs = random_knobs(rng)
        try:
            write_tasks(folder, tasks, questions, seed, knobs, test_questions=test_questions)
            break
        except ValueError:
            shutil.rmtree(folder)
    else:
        knobs = Knobs()
        write_tasks(folder, tasks, questions, seed, knobs, test_questions=test_questions)
    kind = rng.choice(["valid", "file deleted", "file truncated", "line changed", "bytes inserted"])
    damaged: dict[str, int | None] = {}
    if kind != "valid":
        files = sorted(folder.iterdir())
        for path in rng.sample(files, rng.randint(1, min(3, len(files)))):
            damaged[path.name] = damage_file(rng, path, kind)

    def check() -> bool:
        try:
            splits = load_splits(folder, tasks)
        except DataError as err:
            check_folder_error(err, folder, damaged)
            return False
        if kind == "valid":
            expected = {"train": [], "valid": [], "test": []}
            for task in tasks:
                train = generate_records(task, questions, seed, "train", knobs)
                held_out = max(1, round(0.1 * len(train)))
                expected["train"] += train[:-held_out]
                expected["valid"] += train[-held_out:]
                expected["test"] += generate_records(task, test_questions or questions, seed, "test", knobs)
            if splits != expected:
                raise Violation(f"tasks {tasks}, seed {seed}, {knobs}: the folder read back different records")
        return True
    return kind, check


def check_folder_error(err: DataError, folder: Path, damaged: dict[str, int | None]) -> None:
    """One line naming a damaged file (and a line of it no earlier than the damage), or the folder where a file
    was deleted; never an undamaged file."""
    message = str(err)
    if "\n" in message:
        raise Violation(f"malformed message {message[:120]!r}")
    for name, first in damaged.items():
        if message.startswith(f"{folder / name}:"):
            match = re.match(rf"{re.escape(str(folder / name))}:(\d+): ", message)
            if match and (first is None or int(match[1]) < first):
                raise Violation(f"names line {match[1]}, the damage starts at line {first}: {message[:120]!r}")
            return
    match = re.match(rf"{re.escape(str(folder))}: no file for task (\d+) \((\w+)\)", message)
    if not match or damaged.get(f"qa{match[1]}_{TASK_NAMES[int(match[1])]}_{match[2]}.txt", 0) is not None:
        raise Violation(f"names no damaged file: {message[:160]!r}")


# ----------------------------------------------------------------------------------------------- memnets ask

TASK1_WORDS = ["Mary", "John", "Sandra", "Daniel", "moved", "went", "journeyed", "travelled", "back", "to", "the",
               "bathroom", "hallway", "garden", "office", "kitchen", "bedroom", "Where", "is", "Zorblax", "日本"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80"]


def ask_line(rng: random.Random, kind: str) -> str:
    """One line of an ``ask`` input of the given kind."""
    phrase = " ".join(rng.choice(TASK1_WORDS) for _ in range(rng.randint(1, 8)))
    line_id = rng.choice([str(rng.randint(0, 30)), "1", "²", "٣", "007", "9" * 30])
    if kind == "unicode":
        return random_text(rng, rng.randint(0, 60))
    if kind == "bAbI lines":
        if rng.random() < 0.6:
            return f"{line_id} {phrase}."
        return f"{line_id} {phrase}? \t{rng.choice(TASK1_WORDS)}\t{rng.choice(['', '1', '1 2'])}"
    if kind == "questions, no story":
        return rng.choice([phrase + "?", "", f"1 {phrase}?\tgarden\t1"])
    if kind == "empty lines":
        return rng.choice(["", " ", "\t", "\r", "\u3000", "?", " ? ", "1 ?", "1", "1 "])
    if kind == "long lines":
        if rng.random() < 0.5:
            return " ".join([rng.choice(["Mary", "x", "日本", "the garden"])] * rng.randint(500, 4000))
        return "a" * rng.randint(1000, 30000) + rng.choice(["", "?", "."])
    if kind == "tabs":
        return "\t".join(rng.choice([phrase, random_text(rng, rng.randint(0, 8))]) for _ in range(rng.randint(2, 5)))
    # "mixed": any of the above, bAbI lines the most often
    return ask_line(rng, rng.choice(["unicode", "bAbI lines", "bAbI lines", "questions, no story", "empty lines",
                                     "long lines", "tabs"]))


def questions_in(text: str) -> int:
    """How many questions ``ask`` reads in ``text`` (as tests/test_reliability.py counts them)."""
    count = 0
    for raw in text.split("\n"):
        line = raw.strip()
        head, _, rest = line.partition(" ")
        if head.isdigit() and rest:
            line = rest
        count += line.split("\t")[0].strip().endswith("?")
    return count


def run_memnets(argv: list[str], stdin=None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``memnets ARGV`` in-process; an exception escaping it propagates."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    try:
        if stdin is not None:
            sys.stdin = stdin
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = memnets_main([str(a) for a in argv])
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def check_exit(code: int, out: str, err: str, channel: str) -> None:
    if "Traceback" in out + err:
        raise Violation(f"{channel}: a traceback was printed")
    if code == 0 and err:
        raise Violation(f"{channel}: exit 0 with {err[:120]!r} on stderr")
    if code != 0 and (code != 2 or err.count("\n") != 1 or not err.endswith("\n")
                      or not err.startswith("memnets ask: error: ")):
        raise Violation(f"{channel}: exit {code} with {err[:160]!r} on stderr")


def fuzz_ask(rng: random.Random, weights: Path, story: Path):
    kind = rng.choice(["unicode", "bAbI lines", "questions, no story", "empty lines", "long lines", "tabs",
                       "mixed", "not UTF-8"])
    lines = [ask_line(rng, "mixed" if kind == "not UTF-8" else kind) for _ in range(rng.randint(0, 12))]
    data = (rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])).encode("utf-8")
    if kind == "not UTF-8":
        position = rng.randint(0, len(data))
        data = data[:position] + rng.choice(BAD_UTF8) + data[position:]
    story.write_bytes(data)

    def check() -> bool:
        code, out, err = run_memnets(["ask", weights, "--file", story])
        check_exit(code, out, err, "--file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            bad = next(i for i, line in enumerate(data.split(b"\n"), start=1) if not utf8(line))
            if code != 2 or not err.startswith(f"memnets ask: error: {story}:{bad}: byte 0x"):
                raise Violation(f"--file: expected line {bad} named: exit {code}, {err[:120]!r}") from None
            stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")  # a UTF-8 terminal's
            check_exit(*run_memnets(["ask", weights], stdin), "stdin")
            return False
        if code != 0:
            raise Violation(f"--file: UTF-8 text refused: {err[:120]!r}")
        asked = sum(line.startswith("Q: ") for line in out.split("\n"))
        if asked != questions_in(text):
            raise Violation(f"--file: {asked} answers to {questions_in(text)} questions")
        if run_memnets(["ask", weights], io.StringIO(text)) != (0, out, ""):
            raise Violation("stdin: not the answers that --file gave")
        return True
    return kind, check


def train_tiny(root: Path) -> dict[str, Path]:
    """The checkpoints `ask` is fuzzed with: each model trained for one epoch on 64 generated task-1 questions."""
    fast = ["train", "--task", "1", "--no-compile", "--quiet", "--epochs", "1", "--questions", "64", "--examples", "0"]
    paths = {}
    for model, extra in (("memn2n", ["--ls-epochs", "1"]), ("memnn", ["--model", "memnn"])):
        code, _, err = run_memnets([*fast, *extra, "--out", root / model])
        if code != 0:
            raise RuntimeError(f"training the {model} model to fuzz ask with failed: {err}")
        paths[model] = root / model / "task01" / "checkpoint.safetensors"
    return paths


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:120]


def run_target(name: str, error: type[Exception], one_input, rng: random.Random, examples: int = EXAMPLES) -> dict:
    """``examples`` inputs of one target: counts of each outcome, and the first few failures.

    Inputs are made outside the ``try``, so that a fault of the fuzzer itself stops it instead of counting as a
    crash of the target.
    """
    started = time.perf_counter()
    kinds, crashes, failures = Counter(), Counter(), []
    violations = accepted = rejected = 0
    for _ in range(examples):
        kind, check = one_input(rng)
        kinds[kind] += 1
        try:
            if check():
                accepted += 1
            else:
                rejected += 1
        except Violation as err:
            violations += 1
            failures.append(f"contract: {err}")
        except error as err:  # an expected error escaped a check, e.g. from the valid-input path
            violations += 1
            failures.append(f"contract: unexpected {type(err).__name__}: {one_line(err)}")
        except Exception as err:  # noqa: BLE001 - counting every other exception is the point
            crashes[type(err).__name__] += 1
            where = traceback.extract_tb(err.__traceback__)[-1]
            failures.append(f"crash: {type(err).__name__}: {one_line(err)} "
                            f"({Path(where.filename).name}:{where.lineno})")
    result = {"target": name, "tried": examples, "accepted": accepted, "rejected": rejected,
              "crashes": sum(crashes.values()), "contract_violations": violations, "crash_types": dict(crashes),
              "inputs": dict(sorted(kinds.items())), "first_failures": failures[:5],
              "seconds": round(time.perf_counter() - started, 1)}
    print(f"{name:<32} tried {examples}  accepted {accepted:>4}  rejected {rejected:>4}  "
          f"crashes {result['crashes']:>4}  contract violations {violations:>3}  ({result['seconds']} s)", flush=True)
    for failure in failures[:5]:
        print("    " + failure)
    return result


def main() -> None:
    rng = random.Random(SEED)
    story = "1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary? \tbathroom\t1\n".encode()
    tars = {"gz": tar_bytes({MEMBER: story}, "gz"), "": tar_bytes({MEMBER: story}, "")}
    tensors, meta = valid_checkpoint()
    good_checkpoint = safetensors_bytes(tensors, metadata={"memnets": json.dumps(meta)})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        archive, weights = Path(tmp) / "tasks_1-20_v1-2.tar.gz", Path(tmp) / "checkpoint.safetensors"
        targets = [
            run_target("babi.parse_babi", DataError, fuzz_parser, rng),
            run_target("babi.decode", DataError, fuzz_decode, rng),
            run_target("babi.read_split (archive)", DataError, lambda r: fuzz_archive(r, archive, tars), rng),
            run_target("checkpoint.load (files)", checkpoint.CheckpointError,
                       lambda r: fuzz_load(r, weights, good_checkpoint), rng),
            run_target("checkpoint.load_model (metadata)", checkpoint.CheckpointError,
                       lambda r: fuzz_load_model(r, weights), rng),
            run_target("generated folder -> load_splits", DataError, lambda r: fuzz_folder(r, Path(tmp)), rng,
                       FOLDER_EXAMPLES),
        ]
        trained = train_tiny(Path(tmp) / "runs")
        for model, path in trained.items():
            targets.append(run_target(f"cli: memnets ask ({model})", DataError,
                                      lambda r, path=path: fuzz_ask(r, path, Path(tmp) / "story.txt"), rng,
                                      ASK_EXAMPLES))
    wall = time.perf_counter() - started
    payload = {"command": "python benchmarks/fuzz.py", "benchmark": "fuzz", "seed": SEED,
               "examples": {t["target"]: t["tried"] for t in targets}, "wall_seconds": round(wall, 1),
               "machine": machine(), "targets": targets}
    rows = "".join(f"| {t['target']} | {t['tried']:,} | {t['accepted']:,} | {t['rejected']:,} | {t['crashes']} | "
                   f"{t['contract_violations']} | {', '.join(f'{k} {v}' for k, v in t['inputs'].items())} |\n"
                   for t in targets)
    failures = "".join(f"- {t['target']}: {f}\n" for t in targets for f in t["first_failures"]) or "None.\n"
    markdown = (
        "# Fuzzing the readers and `memnets ask`: `python benchmarks/fuzz.py`\n\n"
        f"Seed {SEED}, {wall:.0f} s in all. A crash is any exception other than the target's memnets error "
        "(DataError, CheckpointError); a contract violation is such an error that is not one line naming the file "
        "(and the broken line, where one is), or a valid input read back wrong. Generated folders are written by "
        "`write_tasks` with random tasks, seeds, question counts and knobs, then read by `load_splits`: valid ones "
        "must give the generated records exactly, damaged ones (files deleted or truncated, a line changed, bytes "
        "inserted) read or are one DataError naming a damaged file. The `memnets ask` targets run the in-process "
        "CLI on a tiny trained checkpoint of each model with random text, through `--file` and through standard "
        "input: read = exit 0 with every question answered and the same answers on both; refused = exit 2 with one "
        "`memnets ask: error:` line (input that is not UTF-8); a crash is an exception escaping `memnets.cli.main` "
        "(a traceback).\n\n"
        "| target | inputs tried | read | refused with the memnets error | crashes | contract violations | "
        "inputs by kind |\n|---|---:|---:|---:|---:|---:|---|\n"
        f"{rows}\nFirst failures:\n\n{failures}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "fuzz.md").write_text(markdown)
    print(markdown)
    sys.exit(1 if any(t["crashes"] or t["contract_violations"] for t in targets) else 0)


if __name__ == "__main__":
    main()
