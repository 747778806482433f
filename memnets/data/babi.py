"""Reading the bAbI question-answering tasks (Weston et al. 2015, release v1.2) into question records.

The release's format: each line is ``<id> <sentence>``; ids restart at 1 with every new story; a question line is
``<id> <question><TAB><answer><TAB><supporting ids>``. Every question becomes one :class:`QARecord` holding the
statements before it, so a story with five questions gives five records.

A bAbI directory is either laid out like the release (``root/en/qa1_single-supporting-fact_train.txt``,
``root/en-valid/qa1_valid.txt``, ...), a folder holding ``qaN_*`` files directly (what ``memnets generate``
writes), or the release tarball ``tasks_1-20_v1-2.tar.gz`` itself.
"""
from __future__ import annotations

import lzma
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

VARIANTS = ("en", "en-10k", "en-valid", "en-valid-10k")
TASKS = range(1, 21)

# Task names exactly as in the release's file names (qa1_single-supporting-fact_train.txt, ...).
TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts", 4: "two-arg-relations",
    5: "three-arg-relations", 6: "yes-no-questions", 7: "counting", 8: "lists-sets", 9: "simple-negation",
    10: "indefinite-knowledge", 11: "basic-coreference", 12: "conjunction", 13: "compound-coreference",
    14: "time-reasoning", 15: "basic-deduction", 16: "basic-induction", 17: "positional-reasoning",
    18: "size-reasoning", 19: "path-finding", 20: "agents-motivations",
}


class DataError(ValueError):
    """Bad or missing data; the message names the file (and line) and what was expected."""


@dataclass(frozen=True)
class QARecord:
    """One question with the story that precedes it."""

    story: tuple[str, ...]  # statements before the question, oldest first, as written in the file
    question: str
    answer: str  # as written: "bathroom", "apple,football" (task 8), "s,e" (task 19)
    supports: tuple[int, ...]  # 0-based indices into ``story``
    task: int


_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case words with punctuation stripped, as in the papers: "Where is Mary?" -> [where, is, mary]."""
    return _TOKEN.findall(text.lower())


def _line_id(text: str) -> int | None:
    """The number an id field holds, or None if it is not one: ASCII digits only, since str.isdigit also accepts
    "²" and other digits that int() refuses, and at most 18 of them, far more than any story's line count and short
    of Python's limit on converting long digit strings."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def parse_babi(text: str, source: str, task: int) -> list[QARecord]:
    """Parse the text of one bAbI file; ``source`` names the file in error messages."""
    if not text.strip():
        raise DataError(f"{source}: the file is empty; expected bAbI lines '<id> <sentence>'")
    records: list[QARecord] = []
    statements: list[str] = []
    index_of_id: dict[int, int] = {}  # line id -> index in ``statements`` (questions have none)
    previous_id = 0
    # Lines end at "\n" only (a trailing "\r" is stripped with the rest of the whitespace): str.splitlines would
    # also break at form feeds, "\x85" or "\u2028" inside a sentence, and number the lines unlike an editor or
    # :func:`decode` does.
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{source}:{lineno}"
        head, _, rest = raw.partition(" ")
        line_id = _line_id(head)
        if line_id is None or not rest.strip():
            raise DataError(f"{where}: expected '<id> <sentence>' with <id> a number, got {raw[:60]!r}")
        if line_id == 1:
            statements, index_of_id = [], {}
        elif line_id != previous_id + 1:
            raise DataError(f"{where}: line id {line_id} follows id {previous_id}; ids count up from 1 in each story")
        previous_id = line_id
        if "\t" not in rest:
            if "?" in rest:  # statements never hold a question mark: this is a question whose tabs were lost
                raise DataError(f"{where}: question without a tab; expected '<question>\\t<answer>\\t<supporting ids>'")
            index_of_id[line_id] = len(statements)
            statements.append(rest.strip())
            continue
        fields = rest.split("\t")
        if len(fields) != 3 or not fields[1].strip():
            raise DataError(f"{where}: expected '<question>\\t<answer>\\t<supporting ids>', got {len(fields)} fields")
        if not fields[0].strip():
            raise DataError(f"{where}: no question before the tab; expected '<question>\\t<answer>\\t<supporting ids>'")
        question, answer, support_text = (f.strip() for f in fields)
        supports = []
        for token in support_text.split():
            support_id = _line_id(token)
            if support_id not in index_of_id:
                raise DataError(f"{where}: supporting id {token[:20]!r} does not name an earlier statement of this "
                                f"story (statements so far: {_id_range(index_of_id)})")
            supports.append(index_of_id[support_id])
        records.append(QARecord(tuple(statements), question, answer.lower(), tuple(supports), task))
    if not records:
        raise DataError(f"{source}: no questions found; expected lines '<id> <question>\\t<answer>\\t<ids>'")
    return records


def _id_range(index_of_id: dict[int, int]) -> str:
    # A story's statement ids, shortened to their range: a long story would otherwise fill the error line.
    ids = sorted(index_of_id)
    if not ids:
        return "none"
    return ", ".join(map(str, ids)) if len(ids) <= 5 else f"{len(ids)} ids from {ids[0]} to {ids[-1]}"


def decode(data: bytes, source: str) -> str:
    """UTF-8 text of a file, or a DataError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{source}:{line}: byte {data[err.start]:#04x} is not UTF-8 text") from None


def _pattern(task: int, split: str) -> re.Pattern:
    # "qa1_single-supporting-fact_train.txt" (en, en-10k, generated) and "qa1_train.txt" (en-valid*).
    return re.compile(rf"qa{task}_(?:[a-z-]+_)?{split}\.txt$")


def read_split(root: str | Path, task: int, split: str, variant: str = "en") -> list[QARecord]:
    """Records of one task and split ("train", "valid" or "test") from a bAbI directory or tarball."""
    if task not in TASKS:
        raise DataError(f"task {task} does not exist; bAbI tasks are numbered 1-20")
    if variant not in VARIANTS:
        raise DataError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    root = Path(root)
    pattern = _pattern(task, split)
    if root.is_file() and root.name.endswith(_ARCHIVE_SUFFIXES):
        return _read_archive(root, task, split, variant, pattern)
    if root.is_file():
        raise DataError(f"{root} is a file, not a bAbI folder; expected a directory or an archive named "
                        f"{' or '.join('*' + s for s in _ARCHIVE_SUFFIXES)}")
    if not root.is_dir():
        raise DataError(f"bAbI data not found at {root}: expected a directory or the release tarball")
    folder = root / variant if (root / variant).is_dir() else root
    matches = sorted(p for p in folder.iterdir() if pattern.match(p.name) and p.is_file())
    if not matches:
        raise DataError(f"{folder}: no file for task {task} ({split}); expected qa{task}_<name>_{split}.txt")
    if len(matches) > 1:  # which one was meant cannot be guessed; reading either could train on the wrong task
        raise DataError(f"{folder}: {len(matches)} files for task {task} ({split}): "
                        f"{', '.join(p.name for p in matches)}; expected exactly one, remove the others")
    try:
        data = matches[0].read_bytes()
    except OSError as err:
        raise DataError(f"{matches[0]}: cannot be read ({err.strerror or err})") from None
    return parse_babi(decode(data, str(matches[0])), str(matches[0]), task)


_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")

# What a damaged archive raises, by layer: tarfile's own errors, gzip's truncation (EOFError) and bad data
# (zlib.error, and OSError subclasses such as gzip.BadGzipFile), bz2's OSError, xz's LZMAError.
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


def _read_archive(root: Path, task: int, split: str, variant: str, pattern: re.Pattern) -> list[QARecord]:
    """Records of one task and split from the release tarball (or any tar laid out like it)."""
    unreadable = f"{root}: not a readable bAbI archive (truncated or not a tar)"
    try:
        with tarfile.open(root) as tar:
            matches = [m for m in tar.getmembers()
                       if m.isfile() and _in_folder(m.name, variant) and pattern.match(m.name.rsplit("/", 1)[-1])]
            if not matches:
                raise DataError(f"{root}: no file for task {task} ({split}) in folder {variant}/ of the archive")
            if len(matches) > 1:
                raise DataError(f"{root}: {len(matches)} files for task {task} ({split}) in folder {variant}/ of "
                                f"the archive: {', '.join(m.name for m in matches)}; expected exactly one")
            member = matches[0]
            try:
                data = tar.extractfile(member).read()
            except _ARCHIVE_ERRORS as err:
                raise DataError(f"{unreadable}: {member.name} breaks off ({_detail(err)})") from None
    except _ARCHIVE_ERRORS as err:
        if isinstance(err, OSError) and err.errno is not None:  # the file system's error, not the data's
            raise DataError(f"{root}: cannot be read ({err.strerror})") from None
        raise DataError(f"{unreadable}: {_detail(err)}") from None
    source = f"{root}:{member.name}"
    return parse_babi(decode(data, source), source, task)


def _in_folder(name: str, variant: str) -> bool:
    parts = name.split("/")
    return len(parts) >= 2 and parts[-2] == variant


def _detail(err: BaseException) -> str:
    # A library's message on one line: tarfile's "could not be opened" spans one line per method it tried.
    text = " ".join(str(err).split())
    return text[:200] if text else type(err).__name__


def load_splits(root: str | Path, tasks: list[int], variant: str = "en",
                valid_fraction: float = 0.1) -> dict[str, list[QARecord]]:
    """Train, valid and test records of ``tasks``. Variants without a valid file (``en``, ``en-10k``, generated
    data) hold out the last ``valid_fraction`` of each task's training questions, as the authors' code does."""
    splits: dict[str, list[QARecord]] = {"train": [], "valid": [], "test": []}
    for task in tasks:
        train = read_split(root, task, "train", variant)
        if variant.startswith("en-valid"):
            valid = read_split(root, task, "valid", variant)
        else:
            cut = len(train) - max(1, round(len(train) * valid_fraction))
            train, valid = train[:cut], train[cut:]
        splits["train"] += train
        splits["valid"] += valid
        splits["test"] += read_split(root, task, "test", variant)
    return splits


def parse_tasks(spec: str) -> list[int]:
    """Task numbers from "1", "1,2,5", "1-20" or "all"; a DataError names a task that does not exist."""
    if spec.strip().lower() == "all":
        return list(TASKS)
    tasks: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise DataError(f"bad task list {spec!r}; expected e.g. 1, 1,2,5, 1-20 or all")
        for t in range(int(lo), int(hi or lo) + 1):
            if t not in TASKS:
                raise DataError(f"task {t} does not exist; bAbI tasks are numbered 1-20")
            tasks.append(t)
    return sorted(set(tasks))
