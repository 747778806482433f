"""Reliability of the readers and writers: damaged, ambiguous or mismatched bAbI data and checkpoints end in one
DataError or CheckpointError line that names the file (and line) and what was expected, never a traceback; and an
interrupted write leaves the previous checkpoint or bAbI install in place, with no temporary file behind.

The first tests reproduce reported failures one by one; the hypothesis tests below them check the same contracts
on generated input (kept to at most 50 examples each: ``benchmarks/fuzz.py`` runs them with many more). The last
sections check whole stages the same way: a generated folder reads back as the generator's records (and, damaged,
is one DataError naming the damaged file); ``memnets ask`` answers any text, from a file or standard input, or ends
in one error line; a saved model of any small config loads as the same model; and ``train`` into a finished run's
directory is refused without changing a file there.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import struct
import tarfile
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as safetensors_bytes
from safetensors.torch import save_file

from memnets import checkpoint
from memnets.checkpoint import CheckpointError
from memnets.cli import main
from memnets.data import download
from memnets.data.babi import TASK_NAMES, DataError, QARecord, decode, load_splits, parse_babi, read_split
from memnets.data.download import DownloadError
from memnets.data.generator import Knobs, generate_records, write_tasks
from memnets.data.tensors import Batch
from memnets.data.vocab import Vocab
from memnets.models.memn2n import MemN2N, MemN2NConfig
from memnets.models.memnn import MemNN, MemNNConfig

STORY = "1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary? \tbathroom\t1\n"
MEMBER = "tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt"

# Generated inputs are small and each example is cheap; no deadline, as the machine is shared and timings vary.
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tar_bytes(members: dict[str, bytes], compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def one_line_error(err: pytest.ExceptionInfo, starts: str, *fragments: str) -> None:
    message = str(err.value)
    assert "\n" not in message, message
    assert message.startswith(starts), message
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------------------------------------ 1. unreadable tarballs


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "gzip-not-tar"])
def test_unreadable_tarball_is_one_data_error(tmp_path, kind):
    good = tar_bytes({MEMBER: STORY.encode() * 400})  # large enough that half of it cuts into the member
    content = {"truncated": good[: len(good) // 2], "garbage": b"not an archive" * 20, "empty": b"",
               "gzip-not-tar": gzip.compress(b"plain text, not a tar" * 10)}[kind]
    path = tmp_path / "tasks_1-20_v1-2.tar.gz"
    path.write_bytes(content)
    for read in (lambda: read_split(path, 1, "train"), lambda: load_splits(path, [1])):
        with pytest.raises(DataError) as err:
            read()
        one_line_error(err, str(path), "not a readable bAbI archive (truncated or not a tar)")


def test_member_that_breaks_off_while_read_is_one_data_error(tmp_path, monkeypatch):
    # The archive lists fine but is cut short before its member is read: what reading a tarball that another
    # process is still writing (or replacing) looks like.
    good = tar_bytes({MEMBER: random.Random(0).randbytes(60_000).hex().encode()})
    path = tmp_path / "tasks_1-20_v1-2.tar.gz"
    path.write_bytes(good)
    extractfile = tarfile.TarFile.extractfile

    def truncate_then_extract(self, member):
        with open(path, "r+b") as f:
            f.truncate(len(good) // 2)
        return extractfile(self, member)

    monkeypatch.setattr(tarfile.TarFile, "extractfile", truncate_then_extract)
    with pytest.raises(DataError) as err:
        read_split(path, 1, "train")
    one_line_error(err, str(path), "not a readable bAbI archive (truncated or not a tar)", f"{MEMBER} breaks off")


# ------------------------------------------------------------------------------------- 2. ambiguous folders


def test_two_files_for_one_task_in_a_folder_is_an_error(tmp_path):
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "qa1_single-supporting-fact_train.txt").write_text(STORY)
    (folder / "qa1_copy_train.txt").write_text(STORY.replace("bathroom", "garden"))
    with pytest.raises(DataError) as err:
        read_split(tmp_path, 1, "train")
    one_line_error(err, str(folder), "qa1_copy_train.txt", "qa1_single-supporting-fact_train.txt", "exactly one")


def test_two_members_for_one_task_in_a_tarball_is_an_error(tmp_path):
    path = tmp_path / "tasks_1-20_v1-2.tar.gz"
    copy = "tasks_1-20_v1-2/en/qa1_copy_train.txt"
    path.write_bytes(tar_bytes({MEMBER: STORY.encode(), copy: STORY.encode()}))
    with pytest.raises(DataError) as err:
        read_split(path, 1, "train")
    one_line_error(err, str(path), MEMBER, copy, "exactly one")


# ----------------------------------------------------------------------------- 3, 4. mismatched checkpoints

VOCAB = Vocab(["<nil>", "<unk>", "mary", "garden"])
CONFIG = MemN2NConfig(vocab_size=len(VOCAB), embed_dim=3, hops=2, memory_size=4, encoding="position")


def tiny_checkpoint() -> tuple[dict[str, torch.Tensor], dict]:
    torch.manual_seed(0)
    meta = checkpoint.model_meta("memn2n", CONFIG, VOCAB)
    return MemN2N(CONFIG).state_dict(), json.loads(json.dumps(meta))  # a copy: cases change it in place


def set_config(key, value):
    return lambda meta, tensors: meta["config"].__setitem__(key, value)


MISMATCHES = {
    "no config": (lambda m, t: m.pop("config"), "metadata has no 'config'"),
    "config not an object": (lambda m, t: m.__setitem__("config", [3, 2]), "'config' is a JSON list"),
    "unknown config field": (set_config("colour", "red"), "config field 'colour' is not one of MemN2NConfig's"),
    "missing config field": (lambda m, t: m["config"].pop("vocab_size"), "config has no 'vocab_size'"),
    "config field of the wrong type": (set_config("embed_dim", "3"),
                                       "config field 'embed_dim' is '3', expected type int"),
    "bool for an int": (set_config("hops", True), "config field 'hops' is True, expected type int"),
    "config refused by __post_init__": (set_config("encoding", "fourier"),
                                        "the config is not a valid MemN2NConfig: encoding must be"),
    "model name not a string": (lambda m, t: m.__setitem__("model", ["memn2n"]), "unknown model ['memn2n']"),
    "no vocab": (lambda m, t: m.pop("vocab"), "metadata has no 'vocab'"),
    "vocab without nil": (lambda m, t: m.__setitem__("vocab", ["mary", "<nil>", "<unk>", "x"]),
                          "a vocabulary starts with '<nil>', '<unk>'"),
    "vocab of the wrong size": (lambda m, t: m["vocab"].append("kitchen"),
                                "the vocabulary has 5 words, the config's vocab_size is 4"),
    "tensor of the wrong shape": (lambda m, t: t.__setitem__("embed", torch.zeros(3, 5, 3)),
                                  "tensor embed has shape (3, 5, 3), the config expects (3, 4, 3)"),
    "tensor missing": (lambda m, t: t.pop("temporal"), "tensor temporal is missing; the config expects one of "
                                                       "shape (3, 4, 3)"),
    "tensor not in the model": (lambda m, t: t.__setitem__("bias", torch.zeros(2)),
                                "tensor 'bias' is not part of the model"),
    # Checked against shapes before any weight is allocated: building this model would need petabytes.
    "config asking for a huge model": (set_config("hops", 10**15),
                                       "tensor embed has shape (3, 4, 3), the config expects (1000000000000001, 4, 3)"),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_mismatched_checkpoint_is_one_checkpoint_error(tmp_path, case):
    tensors, meta = tiny_checkpoint()
    change, fragment = MISMATCHES[case]
    change(meta, tensors)
    path = tmp_path / "checkpoint.safetensors"
    checkpoint.save(path, tensors, meta)
    with pytest.raises(CheckpointError) as err:
        checkpoint.load_model(path)
    one_line_error(err, str(path), fragment)


def test_the_build_budget_refuses_a_tensor_before_making_it():
    """load_model builds under a budget of numbers: a factory call past it is refused before it allocates (these
    would need 400 TB), and the numbers counted are those of every shape form the factories take."""
    for make in (lambda: torch.empty(10**7, 10**7), lambda: torch.zeros((10**7, 10**7)), lambda: torch.eye(10**7),
                 lambda: torch.randn(size=(10**7, 10**7)), lambda: torch.full((10**7, 10**7), 1.0)):
        with pytest.raises(checkpoint._OverBudget), checkpoint._Budget(10**6):
            make()
    with checkpoint._Budget(60) as budget:
        torch.randn(3, 4), torch.ones((2, 3)), torch.eye(3, 4), torch.full([5], 2.0), torch.empty(7)
    assert budget.left == 60 - 12 - 6 - 12 - 5 - 7


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "its 'memnets' metadata is not valid JSON"),
    ("", "its 'memnets' metadata is not valid JSON"),
    ("[" * 100_000, "its 'memnets' metadata is not valid JSON"),  # nested deeper than the JSON decoder recurses
    ("1" * 5000, "its 'memnets' metadata is not valid JSON"),  # past Python's limit on long integer strings
    ("[1, 2]", "its 'memnets' metadata is a JSON list, expected an object"),
])
def test_metadata_that_is_not_a_json_object_is_one_checkpoint_error(tmp_path, text, fragment):
    path = tmp_path / "checkpoint.safetensors"
    save_file(tiny_checkpoint()[0], str(path), metadata={"memnets": text})
    for read in (checkpoint.load, checkpoint.load_model):
        with pytest.raises(CheckpointError) as err:
            read(path)
        one_line_error(err, str(path), fragment)


def test_a_matching_checkpoint_still_loads(tmp_path):
    tensors, meta = tiny_checkpoint()
    path = tmp_path / "checkpoint.safetensors"
    checkpoint.save(path, tensors, meta)
    model, vocab, loaded = checkpoint.load_model(path)
    assert isinstance(model, MemN2N) and not model.training and model.config == CONFIG
    assert vocab.words == VOCAB.words and loaded == meta
    assert all(torch.equal(model.state_dict()[k], v) for k, v in tensors.items())


# ------------------------------------------------------------------------------- the bAbI parser, generated

SOURCE = "s.txt"
# Words of any script, but without whitespace (Cc holds the tab and the ASCII separators str.strip removes, Z*
# the rest) and without "?", which marks a question: so that a sentence written out reads back the same.
WORD = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), exclude_characters="?"),
               min_size=1, max_size=6)
SENTENCE = st.lists(WORD, min_size=1, max_size=5).map(" ".join)
QUESTION = SENTENCE.map(lambda s: s + "?")


@st.composite
def babi_files(draw) -> tuple[list[str], list[QARecord], list[int]]:
    """Lines of a valid bAbI file, the records it must parse into, and the 0-based indices of its question lines."""
    lines, records, questions = [], [], []
    for _ in range(draw(st.integers(1, 3))):
        statements, statement_ids = [], []
        length = draw(st.integers(1, 7))
        for line_id in range(1, length + 1):
            if line_id < length and draw(st.booleans()):  # each story ends with a question
                sentence = draw(SENTENCE)
                statements.append(sentence)
                statement_ids.append(line_id)
                lines.append(f"{line_id} {sentence}")
                continue
            question, answer = draw(QUESTION), draw(WORD)
            picks = draw(st.lists(st.integers(0, len(statements) - 1), max_size=3)) if statements else []
            questions.append(len(lines))
            lines.append(f"{line_id} {question} \t{answer}\t{' '.join(str(statement_ids[p]) for p in picks)}")
            records.append(QARecord(tuple(statements), question, answer.lower(), tuple(picks), 1))
    return lines, records, questions


def error_line(err: DataError, text: str) -> int | None:
    """The line number a parser error names (None for a whole-file error), after checking the message's form."""
    message = str(err)
    assert "\n" not in message, message
    match = re.match(rf"{re.escape(SOURCE)}(?::(\d+))?: ", message)
    assert match, message
    if match.group(1) is None:
        return None
    line = int(match.group(1))
    assert 1 <= line <= len(text.split("\n")), message
    return line


@FUZZ
@given(babi_files(), st.data())
def test_valid_text_round_trips(file, data):
    lines, records, _ = file
    # Blank or whitespace-only lines anywhere are skipped, and Windows line ends read the same.
    for _ in range(data.draw(st.integers(0, 3))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(st.sampled_from(["", " ", "\t", "\u3000"])))
    end = data.draw(st.sampled_from(["\n", "\r\n"]))
    assert parse_babi(end.join(lines) + end, SOURCE, task=1) == records


BREAKS = ["tab dropped", "bad id", "non-number id", "huge id", "bad support", "no question", "no answer", "extra field"]


@FUZZ
@given(babi_files(), st.sampled_from(BREAKS), st.data())
def test_one_broken_line_is_named(file, kind, data):
    lines, _, questions = file
    needs_question = kind in ("tab dropped", "bad support", "no question", "no answer", "extra field")
    index = data.draw(st.sampled_from(questions if needs_question else range(len(lines))))
    head, _, rest = lines[index].partition(" ")
    previous_id = int(lines[index - 1].split(" ")[0]) if index else 0
    if kind == "tab dropped":
        rest = rest.replace("\t", " ")
    elif kind == "bad id":
        head = str(data.draw(st.integers(0, 10**30).filter(lambda n: n not in (1, previous_id + 1))))
    elif kind == "non-number id":  # "²" and "٣" pass str.isdigit; int() refuses the first and reads the second
        head = data.draw(st.one_of(st.sampled_from(["²", "٣", "1.0", "-1", "x1", ""]),
                                   st.text(st.characters(exclude_characters=" \n"), max_size=5)
                                   .filter(lambda s: not (s.isascii() and s.isdigit()))))
    elif kind == "huge id":
        head = "9" * data.draw(st.sampled_from([19, 5000]))
    elif kind == "bad support":
        rest += " " + data.draw(st.sampled_from(["²", "٣", "x", "-1", "9" * 5000, head, str(int(head) + 1)]))
    else:
        question, answer, supports = rest.split("\t")
        rest = {"no question": f" \t{answer}\t{supports}", "no answer": f"{question}\t \t{supports}",
                "extra field": f"{rest}\textra"}[kind]
    lines[index] = f"{head} {rest}"
    text = "\n".join(lines) + "\n"
    with pytest.raises(DataError) as err:
        parse_babi(text, SOURCE, task=1)
    assert error_line(err.value, text) == index + 1, str(err.value)


@FUZZ
@given(babi_files(), st.sampled_from(["garbage line", "cut", "replace", "delete"]), st.data())
def test_damaged_text_parses_or_is_one_data_error(file, kind, data):
    text = "\n".join(file[0]) + "\n"
    position = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=20))
    if kind == "garbage line":
        position = text.rfind("\n", 0, position) + 1  # the start of a line
        text = text[:position] + junk.replace("\n", "") + "\n" + text[position:]
    elif kind == "cut":
        text = text[:position]
    elif kind == "replace":
        text = text[:position] + junk + text[position + 1:]
    else:
        text = text[:position] + text[position + 1:]
    first_changed = text[:position].count("\n") + 1  # lines before it still parse as before
    try:
        records = parse_babi(text, SOURCE, task=1)
    except DataError as err:
        line = error_line(err, text)
        assert line is None or line >= first_changed, str(err)
    else:
        assert records and all(isinstance(r, QARecord) for r in records)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_parses_or_is_one_data_error(text):
    try:
        parse_babi(text, SOURCE, task=1)
    except DataError as err:
        error_line(err, text)


@FUZZ
@given(st.binary(max_size=300))
def test_decode_returns_text_or_names_the_first_bad_line(data):
    try:
        text = decode(data, SOURCE)
    except DataError as err:
        # A newline byte never sits inside a UTF-8 sequence, so lines decode on their own: the first that does not
        # is the one to name.
        def bad(line: bytes) -> bool:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return True
            return False

        first_bad = next(i for i, line in enumerate(data.split(b"\n"), start=1) if bad(line))
        assert str(err).startswith(f"{SOURCE}:{first_bad}: byte 0x"), str(err)
    else:
        assert text.encode("utf-8") == data


# --------------------------------------------------------------------------------- archives, generated

GOOD_TARS = {"gz": tar_bytes({MEMBER: STORY.encode()}), "": tar_bytes({MEMBER: STORY.encode()}, "")}


def read_archive(content: bytes) -> list[QARecord] | DataError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks_1-20_v1-2.tar.gz"
        path.write_bytes(content)
        try:
            return read_split(path, 1, "train")
        except DataError as err:
            assert "\n" not in str(err) and str(err).startswith(str(path)), str(err)
            return err


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_as_tarball_is_a_data_error(content):
    assert isinstance(read_archive(content), DataError)


@FUZZ
@given(st.sampled_from(list(GOOD_TARS)), st.sampled_from(["cut", "flip", "insert"]), st.data())
def test_damaged_tarball_reads_or_is_one_data_error(compression, kind, data):
    content = GOOD_TARS[compression]
    position = data.draw(st.integers(0, len(content) - 1))
    if kind == "cut":
        content = content[:position]
    elif kind == "flip":
        flipped = content[position] ^ data.draw(st.integers(1, 255))
        content = content[:position] + bytes([flipped]) + content[position + 1:]
    else:
        content = content[:position] + data.draw(st.binary(min_size=1, max_size=64)) + content[position:]
    result = read_archive(content)
    assert isinstance(result, (DataError, list))


# ------------------------------------------------------------------------------ checkpoints, generated

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4),
                    max_leaves=12)


@st.composite
def checkpoint_metadata(draw) -> dict:
    """Metadata from plain random JSON up to a valid checkpoint's with a few values changed."""
    if draw(st.booleans()):
        return draw(st.dictionaries(st.sampled_from(["model", "config", "vocab", "state", "data", "x"]), JSON))
    meta = tiny_checkpoint()[1]
    fields = list(meta["config"]) + ["unknown"]
    for key in draw(st.lists(st.sampled_from(fields), max_size=3)):
        meta["config"][key] = draw(JSON | st.integers(-(10**20), 10**20))
    for key in draw(st.lists(st.sampled_from(["model", "config", "vocab"]), max_size=1)):
        meta[key] = draw(JSON)
    return meta


def assert_loads_or_checkpoint_error(path: Path, meta: dict | None = None) -> None:
    try:
        model, vocab, loaded = checkpoint.load_model(path)
    except CheckpointError as err:
        assert "\n" not in str(err) and str(path) in str(err), str(err)
    else:  # only a checkpoint that matches its model loads; compared as JSON, where NaN equals NaN
        assert isinstance(model, torch.nn.Module) and not model.training and isinstance(vocab, Vocab)
        if meta is not None:
            assert json.dumps(loaded, sort_keys=True) == json.dumps(meta, sort_keys=True)
            built = {key: getattr(model.config, key) for key in meta["config"]}
            assert json.dumps(built, sort_keys=True) == json.dumps(meta["config"], sort_keys=True)


@FUZZ
@given(checkpoint_metadata(), st.booleans())
def test_random_metadata_loads_or_is_one_checkpoint_error(meta, reshape):
    tensors = tiny_checkpoint()[0]
    if reshape:
        tensors["embed"] = torch.zeros(3, 4, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        checkpoint.save(path, tensors, meta)
        assert_loads_or_checkpoint_error(path, meta)


DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "C64",
          "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "XX"]


@st.composite
def safetensors_files(draw) -> bytes:
    """Random bytes, or a safetensors-shaped file: a header length, a JSON header of random tensor entries, data."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    header = {name: {"dtype": draw(st.sampled_from(DTYPES)), "shape": draw(st.lists(st.integers(0, 6), max_size=3)),
                     "data_offsets": sorted(draw(st.lists(st.integers(0, 64), min_size=2, max_size=2)))}
              for name in draw(st.lists(st.sampled_from(["embed", "temporal", "w"]), unique=True, max_size=3))}
    if draw(st.booleans()):
        header["__metadata__"] = {"memnets": draw(st.one_of(st.text(max_size=20),
                                                            checkpoint_metadata().map(json.dumps)))}
    raw = json.dumps(header).encode()
    length = draw(st.one_of(st.just(len(raw)), st.integers(0, 2**64 - 1)))
    return struct.pack("<Q", length) + raw + draw(st.binary(max_size=64))


@FUZZ
@given(safetensors_files())
def test_random_file_loads_or_is_one_checkpoint_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        path.write_bytes(content)
        try:
            tensors, meta = checkpoint.load(path)
        except CheckpointError as err:
            assert "\n" not in str(err) and str(path) in str(err), str(err)
        else:
            assert isinstance(meta, dict) and all(isinstance(t, torch.Tensor) for t in tensors.values())
        assert_loads_or_checkpoint_error(path)


# ------------------------------------------------------------------------------- interrupted writes


@SOME
@given(st.floats(0, 1), st.sampled_from(["save_file fails", "save_file interrupted", "os.replace fails"]))
def test_interrupted_save_keeps_the_previous_checkpoint(cut, fault):
    old_tensors, old_meta = tiny_checkpoint()
    new_tensors = {k: v + 1 for k, v in old_tensors.items()}
    new_meta = {**old_meta, "data": {"source": "new"}}
    blob = safetensors_bytes(new_tensors, metadata={"memnets": json.dumps(new_meta)})
    error = KeyboardInterrupt if fault == "save_file interrupted" else OSError

    def partial_save_file(tensors, filename, metadata=None):  # as if the disk filled up or the process was stopped
        with open(filename, "wb") as f:
            f.write(blob[: int(cut * len(blob))])
        raise error("stopped mid-write")

    def failing_replace(src, dst):
        raise OSError("rename failed")

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        path = Path(tmp) / "checkpoint.safetensors"
        checkpoint.save(path, old_tensors, old_meta)
        if fault == "os.replace fails":
            patch.setattr(checkpoint.os, "replace", failing_replace)
        else:
            patch.setattr(checkpoint, "save_file", partial_save_file)
        with pytest.raises(error):
            checkpoint.save(path, new_tensors, new_meta)
        patch.undo()
        model, _, meta = checkpoint.load_model(path)
        assert meta == old_meta and torch.equal(model.embed, old_tensors["embed"])
        assert os.listdir(tmp) == [path.name]  # no temporary file left behind


@pytest.fixture(scope="module")
def installed_release(tmp_path_factory) -> dict:
    """A cache with an "old" release installed, and the file URL of a "new" one to install over it."""
    root = tmp_path_factory.mktemp("release")
    urls = {}
    for version in ("old", "new"):
        members = {name: f"1 {version} story.\n2 Where? \t{version}\t1\n".encode()
                   for name in [f"{download.RELEASE_NAME}/README.txt", *download.expected_members()]}
        source = root / f"{version}.tar.gz"
        source.write_bytes(tar_bytes(members))
        urls[version] = source.as_uri()
    cache = root / "cache"
    download.download_babi(cache, urls=[urls["old"]], progress=False)
    return {"cache": cache, "new_url": urls["new"]}


def reinstall_with_fault(installed_release, tmp: Path, patch: pytest.MonkeyPatch, target: str, fails_at: int,
                         error: type[BaseException]) -> Path:
    """Install the new release over a copy of the old install, with call ``fails_at`` of ``target`` failing."""
    cache = tmp / "cache"
    shutil.copytree(installed_release["cache"], cache)
    module, name = {"os.replace": (download.os, "replace"),
                    "copyfileobj": (download.shutil, "copyfileobj")}[target]
    real, calls = getattr(module, name), []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == fails_at + 1:
            raise error("fault injected")
        return real(*args, **kwargs)

    patch.setattr(module, name, flaky)
    with pytest.raises(DownloadError if error is OSError else error):
        download.download_babi(cache, urls=[installed_release["new_url"]], progress=False)
    patch.undo()
    return cache / "babi"


def assert_one_complete_release(babi: Path) -> None:
    # Only the data, its digest and the archive: no .part download, no .extract staging folder.
    assert {p.name for p in babi.iterdir()} <= {download.RELEASE_NAME, "tasks_1-20_v1-2.sha256", download.TARBALL_NAME}
    versions = {(babi / name).read_text().split()[1] for name in download.expected_members()}
    assert versions in ({"old"}, {"new"}), versions  # all of one release, never missing files or a mix



@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
@pytest.mark.parametrize("fails_at", range(4))  # an install over an old one renames four times
def test_interrupted_install_keeps_a_complete_release(installed_release, tmp_path, monkeypatch, fails_at, error):
    babi = reinstall_with_fault(installed_release, tmp_path, monkeypatch, "os.replace", fails_at, error)
    assert_one_complete_release(babi)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, len(download.expected_members())))
def test_failed_unpacking_keeps_the_old_release(installed_release, fails_at):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        babi = reinstall_with_fault(installed_release, Path(tmp), patch, "copyfileobj", fails_at, OSError)
        assert_one_complete_release(babi)
        data = babi / download.RELEASE_NAME / "en" / "qa1_single-supporting-fact_train.txt"
        assert data.read_text().split()[1] == "old"  # unpacking comes before any rename: nothing was replaced


# ------------------------------------------------------------------------- generated folders, round trip
# A folder written by the generator is read back by the bAbI reader as exactly the records the generator made;
# damaged, it still reads or is one DataError naming the damaged file (and line).

FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOB = st.none() | st.integers(0, 14)
KNOBS = st.builds(Knobs, n_actors=KNOB, n_objects=KNOB, n_locations=KNOB, story_length=st.none() | st.integers(0, 30),
                  n_supporting=st.none() | st.integers(0, 6))




@FEW
@given(st.lists(st.integers(1, 20), min_size=1, max_size=2, unique=True), st.integers(0, 10**6),
       st.integers(1, 12), st.none() | st.integers(1, 12), KNOBS)
def test_generated_folder_reads_back_as_the_generate_records(tasks, seed, questions, test_questions, knobs):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            write_tasks(tmp, tasks, questions, seed, knobs, test_questions=test_questions)
        except ValueError as err:  # knobs this task cannot honour: refused by name, before any story is made
            assert "\n" not in str(err) and "=" in str(err), str(err)
            return
        expected = {"train": [], "valid": [], "test": []}
        for task in tasks:
            train = generate_records(task, questions, seed, "train", knobs)
            test = generate_records(task, test_questions or questions, seed, "test", knobs)
            assert len(train) == questions and len(test) == (test_questions or questions)
            assert read_split(tmp, task, "train") == train and read_split(tmp, task, "test") == test
            held_out = max(1, round(0.1 * len(train)))  # the last tenth of each task's training questions
            expected["train"] += train[:-held_out]
            expected["valid"] += train[-held_out:]
            expected["test"] += test
        assert load_splits(tmp, tasks, valid_fraction=0.1) == expected


@st.composite
def damages(draw, files: list[str]) -> list[tuple]:
    """One to three damages to a generated folder's files: (kind, file name, detail)."""
    picked = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(files))
        kind = draw(st.sampled_from(["delete", "truncate", "replace line", "delete line", "duplicate line",
                                     "insert bytes"]))
        picked.append((kind, name, draw(st.floats(0, 1)), draw(st.text(max_size=30)),
                       draw(st.binary(min_size=1, max_size=4))))
    return picked


def damage(folder: Path, kind: str, name: str, where: float, junk: str, junk_bytes: bytes) -> int | None:
    """Damage one file; returns the first line that may now be at fault (None: the whole file is gone)."""
    path = folder / name
    if not path.exists():  # deleted by an earlier damage
        return None
    if kind == "delete":
        path.unlink()
        return None
    data = path.read_bytes()
    position = int(where * len(data))
    first = data[:position].count(b"\n") + 1
    if kind == "truncate":
        path.write_bytes(data[:position])
    elif kind == "insert bytes":
        path.write_bytes(data[:position] + junk_bytes + data[position:])
    else:
        lines = data.decode("utf-8", "surrogateescape").split("\n")
        index = min(first - 1, len(lines) - 1)
        new = {"replace line": [junk], "delete line": [], "duplicate line": [lines[index]] * 2}[kind]
        lines[index:index + 1] = new
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
        first = index + 1
    return first


@FEW
@given(st.lists(st.integers(1, 20), min_size=1, max_size=2, unique=True), st.integers(0, 10**6),
       st.integers(1, 6), st.data())
def test_damaged_generated_folder_loads_or_names_the_damaged_file(tasks, seed, questions, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_tasks(folder, tasks, questions, seed)
        files = sorted(p.name for p in folder.iterdir())
        damaged: dict[str, int | None] = {}  # file -> first line that may be at fault, None = deleted
        for kind, name, *detail in data.draw(damages(files)):
            first = damage(folder, kind, name, *detail)
            if name not in damaged or first is None or (damaged[name] is not None and first < damaged[name]):
                damaged[name] = first
        try:
            load_splits(folder, tasks)
        except DataError as err:
            message = str(err)
            assert "\n" not in message, message
            named = [n for n in damaged if message.startswith(f"{folder / n}:")]
            if named:  # a damaged file, and a line of it no earlier than the first damage
                match = re.match(rf"{re.escape(str(folder / named[0]))}:(\d+): ", message)
                assert match is None or damaged[named[0]] is not None and int(match[1]) >= damaged[named[0]], message
            else:  # a deleted file, named by the folder and what was expected there
                match = re.match(rf"{re.escape(str(folder))}: no file for task (\d+) \((\w+)\)", message)
                assert match, message
                task, split = int(match[1]), match[2]
                assert damaged.get(f"qa{task}_{TASK_NAMES[task]}_{split}.txt", 0) is None, message


# ------------------------------------------------------------------------------------- ask, generated input
# `memnets ask CHECKPOINT --file F`, and the same text on standard input, for both models: random text answers
# every question it holds (exit 0) or ends in one "memnets ask: error:" line (exit 2), never a traceback.

TINY_TRAIN = ["train", "--task", "1", "--no-compile", "--quiet", "--epochs", "1", "--questions", "64",
              "--examples", "0"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    """One finished run directory per model, each trained for one epoch on 64 generated task-1 questions."""
    root = tmp_path_factory.mktemp("tiny-runs")
    runs = {}
    for model, extra in (("memn2n", ["--ls-epochs", "1"]), ("memnn", ["--model", "memnn"])):
        with contextlib.redirect_stdout(io.StringIO()):
            assert main([*TINY_TRAIN, *extra, "--out", str(root / model)]) == 0
        runs[model] = root / model
    return runs


def run_main(argv: list[str], stdin=None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``memnets ARGV`` in-process (``stdin``: what standard input holds)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.MonkeyPatch.context() as patch:
        if stdin is not None:
            patch.setattr("sys.stdin", stdin)
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_exit_0_or_one_error_line(code: int, out: str, err: str, command: str) -> None:
    assert "Traceback" not in out + err
    if code == 0:
        assert err == "", err
    else:
        assert code == 2, (code, err)
        assert err.endswith("\n") and err.count("\n") == 1 and err.startswith(f"memnets {command}: error: "), err


def questions_in(text: str) -> int:
    """How many questions ``ask`` reads in ``text``: lines (split at "\\n" only) that end in "?" once stripped of
    a leading "<id> " and of everything from the first tab, as in a bAbI file."""
    count = 0
    for raw in text.split("\n"):
        line = raw.strip()
        head, _, rest = line.partition(" ")
        if head.isdigit() and rest:
            line = rest
        count += line.split("\t")[0].strip().endswith("?")
    return count


TASK1_WORDS = ["Mary", "John", "Sandra", "Daniel", "moved", "went", "journeyed", "travelled", "back", "to", "the",
               "bathroom", "hallway", "garden", "office", "kitchen", "bedroom", "Where", "is", "Zorblax", "日本"]
PHRASE = st.lists(st.sampled_from(TASK1_WORDS), min_size=1, max_size=8).map(" ".join)
LINE_ID = st.integers(0, 30).map(str) | st.sampled_from(["1", "²", "٣", "007", "9" * 30])
ASK_LINE = st.one_of(
    st.text(max_size=60),  # any unicode, line breaks included
    st.builds(lambda i, s: f"{i} {s}.", LINE_ID, PHRASE),  # a bAbI statement
    st.builds(lambda i, q, a, ids: f"{i} {q}? \t{a}\t{ids}", LINE_ID, PHRASE, PHRASE,
              st.sampled_from(["", "1", "1 2"])),  # a bAbI question line
    PHRASE.map(lambda q: q + "?"),  # a question, with or without a story before it
    st.sampled_from(["", " ", "\t", "\r", "\u3000", "?", " ? ", "1 ?", "1", "1 "]),  # (nearly) empty lines
    st.builds(lambda word, n: " ".join([word] * n), st.sampled_from(["Mary", "x", "日本", "the garden"]),
              st.integers(500, 4000)),  # very long lines: many words, or one long one
    st.builds(lambda n, end: "a" * n + end, st.integers(1000, 30000), st.sampled_from(["", "?", "."])),
    st.lists(st.text(max_size=8) | PHRASE, min_size=2, max_size=5).map("\t".join),  # tabs
)
BAD_UTF8 = st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80"])


@st.composite
def ask_inputs(draw) -> bytes:
    text = draw(st.sampled_from(["\n", "\r\n"])).join(draw(st.lists(ASK_LINE, max_size=12)))
    data = (text + draw(st.sampled_from(["", "\n"]))).encode("utf-8")
    if draw(st.integers(0, 3)) == 0:  # a byte sequence that is not UTF-8, somewhere
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(BAD_UTF8) + data[position:]
    return data


def first_bad_line(data: bytes) -> int | None:
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return None


@FEW
@given(ask_inputs())
def test_ask_answers_any_file_or_stdin_or_is_one_error_line(tiny_runs, data):
    bad_line = first_bad_line(data)
    with tempfile.TemporaryDirectory() as tmp:
        story = Path(tmp) / "story.txt"
        story.write_bytes(data)
        for model, run_dir in tiny_runs.items():
            weights = run_dir / "task01" / "checkpoint.safetensors"
            code, out, err = run_main(["ask", weights, "--file", story])
            assert_exit_0_or_one_error_line(code, out, err, "ask")
            if bad_line is not None:  # the file's first undecodable line, named
                assert code == 2 and err.startswith(f"memnets ask: error: {story}:{bad_line}: byte 0x"), err
                # standard input as a UTF-8 terminal gives it: a decoding error, one line as well
                stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")
                assert_exit_0_or_one_error_line(*run_main(["ask", weights], stdin), "ask")
                continue
            text = data.decode("utf-8")
            assert code == 0, (model, err)
            asked = [line for line in out.split("\n") if line.startswith("Q: ")]
            assert len(asked) == questions_in(text), (model, out[-2000:])
            # the same text on standard input: the same answers
            assert run_main(["ask", weights], io.StringIO(text)) == (0, out, ""), model


# ------------------------------------------------------------------------- save -> load: the same model
# A checkpoint of any small config of either model loads as the same model: same config, vocabulary and tensors,
# and the same outputs, bit for bit, on a padded batch.

SMALL = st.integers(1, 6)
SCALE = st.floats(1e-3, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def small_models(draw) -> tuple[str, object]:
    vocab_size, memory_size = draw(st.integers(3, 12)), draw(SMALL)
    if draw(st.booleans()):
        encoding = draw(st.sampled_from(["bow", "position", "position-released"]))
        return "memn2n", MemN2NConfig(
            vocab_size=vocab_size, embed_dim=draw(st.integers(1, 8)), hops=draw(st.integers(1, 4)),
            memory_size=memory_size, encoding=encoding, sentence_size=draw(st.integers(1, 6)),
            temporal=draw(st.booleans()), tying=draw(st.sampled_from(["adjacent", "layerwise"])),
            relu=draw(st.booleans()), init_std=draw(SCALE))
    return "memnn", MemNNConfig(
        vocab_size=vocab_size, embed_dim=draw(st.integers(1, 8)), memory_size=memory_size,
        lookups=draw(st.integers(1, 4)), adaptive=draw(st.booleans()), ngrams=draw(st.booleans()),
        ngram_buckets=draw(st.integers(1, 32)), nonlinear=draw(st.booleans()), time_features=draw(st.booleans()),
        margin=draw(SCALE), init_std=draw(SCALE))


@st.composite
def padded_batches(draw, vocab_size: int, memory_size: int) -> Batch:
    """A batch as ``vectorize`` pads one: story (B, M, J) word ids with empty slots all 0, query (B, Jq), time
    (B, M) = L..1 then 0s for a story of L sentences, supports (B, S) slots of the story with -1 padding."""
    b, j, jq, s = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    word = st.integers(0, vocab_size - 1)
    story = torch.zeros(b, memory_size, j, dtype=torch.long)
    time = torch.zeros(b, memory_size, dtype=torch.long)
    supports = torch.full((b, s), -1, dtype=torch.long)
    for i in range(b):
        length = draw(st.integers(1, memory_size))
        story[i, :length] = torch.tensor(draw(st.lists(st.lists(word, min_size=j, max_size=j),
                                                       min_size=length, max_size=length)))
        time[i, :length] = torch.arange(length, 0, -1)
        picked = draw(st.lists(st.integers(0, length - 1), max_size=s))
        supports[i, :len(picked)] = torch.tensor(picked, dtype=torch.long)
    query = torch.tensor(draw(st.lists(st.lists(word, min_size=jq, max_size=jq), min_size=b, max_size=b)))
    answer = torch.tensor(draw(st.lists(st.integers(1, vocab_size - 1), min_size=b, max_size=b)))
    return Batch(story, query, time, answer, supports, torch.ones(b, dtype=torch.long))


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shape, dtype and values, bit for bit (NaN where the other has NaN)."""
    def numbers(t: torch.Tensor) -> torch.Tensor:
        return t.nan_to_num(0.0, float("inf"), float("-inf"))  # NaN to 0, infinities kept

    return (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
            and torch.equal(numbers(a), numbers(b)))


def outputs(model, batch: Batch, supervised: bool) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(**model.inputs(batch.tensors(), False, supervised=supervised))
    return [t for field in out for t in (field if isinstance(field, tuple) else (field,))]  # logits, attention, ...


@FEW
@given(small_models(), st.integers(0, 2**32 - 1), st.data())
def test_saved_model_loads_as_the_same_model_with_the_same_outputs(model_and_config, seed, data):
    name, config = model_and_config
    torch.manual_seed(seed)
    model = {"memn2n": MemN2N, "memnn": MemNN}[name](config).eval()
    vocab = Vocab(["<nil>", "<unk>", *(f"w{i}" for i in range(config.vocab_size - 2))])
    meta = checkpoint.model_meta(name, config, vocab, data={})
    batch = data.draw(padded_batches(config.vocab_size, config.memory_size))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        checkpoint.save(path, model.state_dict(), meta)
        loaded, loaded_vocab, loaded_meta = checkpoint.load_model(path)
    assert type(loaded) is type(model) and loaded.config == config and not loaded.training
    assert loaded_vocab.words == vocab.words and loaded_meta == meta
    original_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(loaded_state) == list(original_state)
    assert all(same_tensor(loaded_state[k], v) for k, v in original_state.items())
    for supervised in (False, True) if model.strongly_supervised else (False,):
        before, after = outputs(model, batch, supervised), outputs(loaded, batch, supervised)
        assert len(before) == len(after) and all(map(same_tensor, before, after)), (name, supervised)
        assert not before[0][:, 1:].isnan().any()  # logits (past <nil>, which is -inf) are numbers


# ------------------------------------------------------------------------------ run directory contract
# `memnets train --out DIR` into a directory holding a finished run, without --resume or --overwrite, is refused
# in one line and touches nothing there.

def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included), by relative path: the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


RETRAIN_OPTIONS = st.lists(st.sampled_from([
    ["--task", "1"], ["--task", "2"], ["--task", "1,2"], ["--joint"], ["--epochs", "3"], ["--seed", "7"],
    ["--restarts", "2"], ["--embed-dim", "5"], ["--examples", "0"], ["--quiet"], ["--no-compile"],
    ["--questions", "64"], ["--data-seed", "1"]]), max_size=5)


def refused_retrain(run_dir: Path, model: str, options: list[list[str]]) -> tuple[int, str, str]:
    argv = ["train", *(["--model", "memnn"] if model == "memnn" else []), *(o for opt in options for o in opt),
            "--out", run_dir]
    return run_main(argv)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["memn2n", "memnn"]), RETRAIN_OPTIONS)
def test_train_into_a_finished_run_is_one_error_line_and_changes_no_file(tiny_runs, model, options):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        shutil.copytree(tiny_runs[model], run_dir)
        before = snapshot(run_dir)
        code, out, err = refused_retrain(run_dir, model, options)
        assert_exit_0_or_one_error_line(code, out, err, "train")
        assert code == 2 and "already holds" in err and "--resume" in err and "--overwrite" in err, err
        after = snapshot(run_dir)
        assert set(after) == set(before)  # no file added or removed
        changed = [name for name in before if after[name] != before[name]]
        assert not changed, changed


@pytest.mark.parametrize("case", ["another command", "a run without .lock"])
def test_refused_train_leaves_the_lock_file_as_it_was(tiny_runs, tmp_path, case):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_runs["memn2n"], run_dir)
    if case == "a run without .lock":  # e.g. a run copied without its hidden files, or made before run locks
        (run_dir / ".lock").unlink()
    before = snapshot(run_dir)
    code, out, err = refused_retrain(run_dir, "memn2n", [["--epochs", "3"]])
    assert code == 2 and "already holds" in err, err
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("source", ["generated", "data-dir"])
def test_training_on_one_question_names_the_task(tmp_path, source):
    if source == "data-dir":
        write_tasks(tmp_path / "babi", [1], 1, 0)
    data = ["--data-dir", tmp_path / "babi"] if source == "data-dir" else []
    code, out, err = run_main([*TINY_TRAIN, "--ls-epochs", "1", "--questions", "1", *data, "--out", tmp_path / "run"])
    assert_exit_0_or_one_error_line(code, out, err, "train")
    assert code == 2 and "task 1" in err and "question" in err, err


# ------------------------------------------------------------------------------ training processes (--jobs)

ORPHAN_SCRIPT = """
import sys
from memnets import train as loop
from memnets.data.babi import load_splits
from memnets.data.generator import write_tasks
from memnets.data.tensors import vectorize
from memnets.data.vocab import Vocab
from memnets.models.memn2n import MemN2NConfig

if __name__ == "__main__":
    folder = sys.argv[1]
    write_tasks(folder + "/gen", [1], 400, seed=0, test_questions=10)
    splits = load_splits(folder + "/gen", [1], "en", 0.1)
    vocab = Vocab.build(splits["train"] + splits["valid"])
    data = {k: vectorize(v, vocab, memory_size=10) for k, v in splits.items()}
    loop.SPLIT_FROM_STEPS = 0  # split this small run's restarts between two processes
    cfg = loop.TrainConfig(epochs=100000, ls_epochs=1, compile=False, restarts=2)
    loop.train("memn2n", MemN2NConfig(len(vocab), memory_size=10, encoding="position"), data["train"],
               data["valid"], cfg, vocab, {"source": "test"}, run_dir=folder + "/run", progress=False, jobs=2)
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_training_processes_end_with_the_process_that_started_them(tmp_path):
    """A run killed outright (SIGKILL: no clean-up runs) takes its training processes with it: none is left to
    write into the run directory, whose lock the kill released."""
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "run.py").write_text(ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == parent.pid:  # field 4: the parent's pid
                        found.append(int(entry.name))
        return found

    deadline = time.monotonic() + 120
    while not all((tmp_path / "run" / g / "last.safetensors").is_file() for g in ("restarts0-0", "restarts1-1")):
        assert parent.poll() is None and time.monotonic() < deadline, "the two groups never started training"
        time.sleep(0.2)
    workers = children()
    assert len(workers) >= 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    def alive(pid: int) -> bool:  # running, not a zombie waiting to be reaped
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a training process outlived the run that started it"
        time.sleep(0.2)
