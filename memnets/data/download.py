"""Find the bAbI data on disk, or download and unpack the official release.

The data directory is looked up in this order: the ``--data-dir`` option, the
``MEMNETS_DATA`` environment variable, then the extracted release in the user
cache (``$XDG_CACHE_HOME/memnets/babi/tasks_1-20_v1-2``).

``download_babi`` fetches ``tasks_1-20_v1-2.tar.gz`` and installs it into the
cache only after the archive has been read to the end, holds every expected
file and, for the official URLs, matches the recorded size and SHA-256.  The
extracted folder is moved into place in one rename once it is complete, so its
existence means a complete, verified install; a failed install puts back the
copy it replaced, and every failure path removes its temporary files.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from memnets.data.babi import TASK_NAMES

DEFAULT_URLS = (
    "https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz",
    # The copy Keras' bAbI examples download; same release, different host.
    "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz",
)

RELEASE_NAME = "tasks_1-20_v1-2"
TARBALL_NAME = f"{RELEASE_NAME}.tar.gz"

# Size and SHA-256 of the official tasks_1-20_v1-2.tar.gz, as recorded in the
# "download_checksums" of Hugging Face's babi_qa loader
# (huggingface/datasets, datasets/babi_qa/dataset_infos.json, commit 040102f1,
# keyed by the original http://www.thespermwhale.com/jaseweston/babi/ URL).
# The same digest is pinned for the facebook/babi_qa archive by an unrelated
# project.  Both DEFAULT_URLS serve copies of that one file.
RELEASE_SIZE = 15_719_851
RELEASE_SHA256 = "0364ebde659f14d11bc21744516c5ec49d3d06cb692733f66680771244998898"

_CHUNK = 1 << 16
_TIMEOUT_S = 60


class DownloadError(Exception):
    """The bAbI release could not be downloaded, verified or installed."""


# SHA-256 of every task file of the release's en, en-10k, en-valid and en-valid-10k folders, computed from the
# copy of tasks_1-20_v1-2 that memnets is tested on (its en-10k folder lacks task 3's training file, so that one file
# is not listed and a folder holding it is not recognised as the release for task 3).
_FILE_DIGESTS = Path(__file__).with_name("babi_v1_2.sha256")


def release_files(root: str | Path, variant: str) -> bool:
    """Whether ``root`` (a folder or an archive) holds the v1.2 release's own files for ``variant``: the archive is
    the release tarball, or every task file of the variant's folder is byte-identical to the release's. Results
    are printed beside the papers' columns only then; a folder of other bAbI-format files is labelled by its path."""
    root = Path(root)
    if root.is_file():
        digest = hashlib.sha256()
        with open(root, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest() == RELEASE_SHA256
    folder = root / variant if (root / variant).is_dir() else root
    known = dict(line.split()[::-1] for line in _FILE_DIGESTS.read_text().splitlines() if line.strip())
    files = sorted(p for p in folder.glob("qa*.txt") if p.is_file()) if folder.is_dir() else []
    return bool(files) and all(known.get(f"{variant}/{p.name}") == hashlib.sha256(p.read_bytes()).hexdigest()
                               for p in files)


def expected_members() -> list[str]:
    """Archive paths of every task file the release must contain."""
    names = []
    for folder in ("en", "en-10k"):
        for n, task in TASK_NAMES.items():
            for split in ("train", "test"):
                names.append(f"{RELEASE_NAME}/{folder}/qa{n}_{task}_{split}.txt")
    # The -valid folders split each training set 90/10 and drop the task name.
    for folder in ("en-valid", "en-valid-10k"):
        for n in TASK_NAMES:
            for split in ("train", "valid", "test"):
                names.append(f"{RELEASE_NAME}/{folder}/qa{n}_{split}.txt")
    return names


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/memnets``, or ``~/.cache/memnets`` when it is unset."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "memnets"


def resolve_data_dir(cli_value: str | None) -> Path | None:
    """The bAbI data directory (or tarball) to read, or None if none is known.

    Explicit choices are passed through unchecked, so that a mistyped path is
    reported by the reader instead of silently falling back to another copy.
    """
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("MEMNETS_DATA")
    if env:
        return Path(env).expanduser()
    cached = default_cache_dir() / "babi" / RELEASE_NAME
    if cached.is_dir():
        return cached
    return None


def download_babi(
    cache_dir: Path | None = None,
    urls: tuple[str, ...] | list[str] = DEFAULT_URLS,
    progress: bool = True,
    expected_sha256: str | None = None,
) -> Path:
    """Download, verify and unpack the bAbI release; return its data directory.

    ``urls`` are tried in order; any failure (network, HTTP status, truncated
    or corrupt archive, missing files, checksum) moves on to the next one.
    ``expected_sha256=None`` checks the recorded size and digest for the
    official ``DEFAULT_URLS`` only; a given digest is required of every URL.
    """
    babi_dir = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "babi"
    try:
        babi_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the cache folder {babi_dir}: {exc.strerror or exc}.") from None

    failures = []
    for url in urls:
        # Downloaded into the destination folder so the final rename stays on
        # one file system and is atomic.
        fd, part_name = tempfile.mkstemp(dir=babi_dir, prefix=f".{TARBALL_NAME}.", suffix=".part")
        part = Path(part_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest = _fetch(url, out, progress)
            _check_digest(url, size, digest, expected_sha256)
            _check_archive(part)
            return _install(part, digest, babi_dir)
        except _AttemptFailed as exc:
            failures.append(f"{url}: {exc}")
        finally:
            part.unlink(missing_ok=True)

    if not failures:
        raise DownloadError("No download URL was given for the bAbI tasks.")
    raise DownloadError("Could not download the bAbI tasks: " + "; ".join(failures) + ".")


class _AttemptFailed(Exception):
    """One URL did not yield a valid archive; the message says why."""


def _fetch(url: str, out, progress: bool) -> tuple[int, str]:
    """Stream ``url`` into ``out``; return the byte count and SHA-256."""
    sha = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=TARBALL_NAME,
                disable=not progress,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise _AttemptFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _AttemptFailed(str(exc.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _AttemptFailed(f"transfer failed ({str(exc) or type(exc).__name__})") from None
    # http.client returns a short body without complaint when the server
    # closes early, so the promised length has to be checked here.
    if total is not None and size != total:
        raise _AttemptFailed(f"transfer was cut short ({size} of {total} bytes)")
    return size, sha.hexdigest()


def _check_digest(url: str, size: int, digest: str, expected_sha256: str | None) -> None:
    if expected_sha256 is None:
        if url not in DEFAULT_URLS:
            return
        if size != RELEASE_SIZE:
            raise _AttemptFailed(f"archive is {size} bytes, the release is {RELEASE_SIZE}")
        expected_sha256 = RELEASE_SHA256
    if digest != expected_sha256.lower():
        raise _AttemptFailed(f"SHA-256 {digest} does not match the expected {expected_sha256}")


def _check_archive(path: Path) -> None:
    """Read the whole gzip stream (CRC included) and check the member list."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise _AttemptFailed(f"archive is truncated or corrupt ({exc})") from None

    for member in members:
        if not _is_safe(member.name):
            raise _AttemptFailed(f"archive holds an unsafe path {member.name!r}")
    files = {m.name for m in members if m.isfile()}
    missing = [name for name in expected_members() if name not in files]
    if missing:
        extra = len(missing) - 1
        more = f" and {extra} more file{'s' if extra > 1 else ''}" if extra else ""
        raise _AttemptFailed(f"archive is missing {missing[0]}{more}")


def _is_safe(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _install(part: Path, digest: str, babi_dir: Path) -> Path:
    """Unpack a verified archive and move the data, then its digest and the archive, into place.

    The data folder is swapped first: if that move fails (or is interrupted), the copy installed before is moved
    back, so a failure leaves the previous complete install or the new one, never neither.
    """
    target = babi_dir / RELEASE_NAME
    staging = Path(tempfile.mkdtemp(dir=babi_dir, prefix=f".{RELEASE_NAME}.extract."))
    try:
        _extract_regular_files(part, staging)
        digest_tmp = staging / "sha256"
        digest_tmp.write_text(f"{digest}  {TARBALL_NAME}\n", encoding="ascii")
        # os.replace cannot overwrite a non-empty folder: move an older copy
        # aside first (into the staging folder, which is deleted below).
        previous = staging / "previous"
        if target.exists():
            os.replace(target, previous)
        try:
            os.replace(staging / RELEASE_NAME, target)
        except BaseException:
            if previous.exists():
                os.replace(previous, target)
            raise
        os.replace(digest_tmp, babi_dir / f"{RELEASE_NAME}.sha256")
        os.replace(part, babi_dir / TARBALL_NAME)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise DownloadError(f"Could not unpack the bAbI tasks into {babi_dir}: {exc}.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _extract_regular_files(archive: Path, dest: Path) -> None:
    # Only plain files under the release folder are written; links, devices
    # and anything else in the archive are skipped.
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or not parts or parts[0] != RELEASE_NAME:
                continue
            out_path = dest.joinpath(*parts)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(out_path, "wb") as dst:
                shutil.copyfileobj(src, dst)
