"""Paths (cache dir, data root) and files written whole: atomic files and directories, sha256."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

CACHE_ENV = "HYBRID_RETRIEVAL_CACHE"
DATA_ENV = "HYBRID_RETRIEVAL_DATA"
DATA_ROOT_DEFAULT = Path.home() / ".cache" / "hybrid_retrieval" / "data"  # where downloads go when nothing is set


def cache_root() -> Path:
    """Built artefacts shared by jobs (token caches, local backbones): $HYBRID_RETRIEVAL_CACHE or ~/.cache."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hybrid_retrieval")


def resolve_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: the explicit key, else $HYBRID_RETRIEVAL_DATA, else the download cache."""
    if data_dir not in (None, ""):
        return Path(os.path.expanduser(str(data_dir)))
    if os.environ.get(DATA_ENV):
        return Path(os.path.expanduser(os.environ[DATA_ENV]))
    return DATA_ROOT_DEFAULT


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def install_dir(dest: Path, build: Callable[[Path], None], is_current: Callable[[Path], bool] = Path.is_dir) -> Path:
    """Build ``dest`` once across processes, and never show a half-built one under its name.

    Under a lock beside ``dest``: built into a temp sibling, flushed, then renamed into place;
    a stale ``dest`` (``is_current`` false) is moved aside in one rename first.  Leftovers of
    crashed builds are removed while the lock is held.
    """
    dest = Path(dest)
    if is_current(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / f".{dest.name}.lock")):
        if is_current(dest):  # another process finished while we waited
            return dest
        for leftover in dest.parent.glob(f".{dest.name}.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
        old = None
        try:
            build(tmp)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; other jobs and users read it
            _fsync_tree(tmp)
            if dest.exists():
                old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-old-"))
                os.replace(dest, old / dest.name)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return dest


def _fsync_tree(path: Path) -> None:
    """Flush a built tree's files before the rename, so a power cut cannot expose empty files."""
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened for fsync everywhere
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def replaced_atomically(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it becomes ``path`` in one rename, on error it is removed.

    Readers (and a job resumed after a kill) never see a torn file. ``suffix`` keeps writers that infer the
    format from the name (``savefig``, ``np.savez``) writing what we mean.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results should read like any other file
        os.replace(tmp, path)
    except OSError as err:
        if err.errno == errno.ENOSPC:  # the temp file goes, the previous file stays; say where space ran out
            raise DiskFullError(
                errno.ENOSPC,
                f"no space left on device in {path.parent} while writing {path.name}; "
                f"the previous {path.name} (if any) is kept; free space there and re-run",
            ) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


class DiskFullError(OSError):
    """A write that ran out of space (ENOSPC); the message names the directory."""


def write_atomically(path: Path, text: str) -> None:
    """Write a text file via temp file + rename, so readers never see a torn file."""
    with replaced_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
