"""Writing outputs safely: atomic replacement, refusing paths that are not ours, one writer.

Every command that writes a result goes through three steps:

1. :func:`check_output` before any work: an output path that exists is replaced only when
   it is an earlier output of the same kind (``is_ours``) *and* the caller asked for it
   (``overwrite``); anything else (a user's folder, a file of another kind) is refused
   with a one-line :class:`~surrogates.DataError` and left untouched.
2. :func:`output_lock` for the whole job: an advisory ``flock`` on ``.<name>.lock`` beside
   the output, so a second writer of the same path is refused with a message naming the
   first (its pid, host, command and start time) instead of racing it. The kernel
   releases the lock when its process dies, so a killed job never leaves a stale lock.
3. :func:`atomic_path` (or :func:`atomic_json`): write a temporary sibling, then rename
   it over the target, so a crash leaves the old output or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from surrogates.errors import DataError

__all__ = ["atomic_json", "atomic_path", "check_output", "output_lock", "output_path"]

_HELD: dict[str, list] = {}  # lock path -> [fd, depth] held by this process


def output_path(path: str | os.PathLike[str] | None, option: str = "--out") -> Path:
    """``path`` as a Path, refusing an empty one (``--out ''`` would mean the cwd)."""
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise DataError(f"{option} {text!r}: expected a file or store path, got an empty string")
    target = Path(text)
    if target.name in ("", ".", ".."):
        raise DataError(f"{option} {text!r}: expected a file or store name, got a directory")
    return target


def _found(target: Path) -> str:
    if target.is_symlink():
        return f"a symbolic link to {os.readlink(target)}"
    if target.is_dir():
        n = sum(1 for _ in target.iterdir())
        return f"a directory holding {n} entr{'y' if n == 1 else 'ies'}"
    if target.is_file():
        return f"a file of {target.stat().st_size} bytes"
    return "something that is neither a file nor a directory"


def check_output(
    target: Path, *, overwrite: bool, is_ours: Callable[[Path], bool], what: str
) -> None:
    """Refuse to write ``target`` unless it is new, or an earlier output we may replace.

    Parameters
    ----------
    target : Path
        The output path.
    overwrite : bool
        The caller asked to replace an earlier output (``--overwrite``).
    is_ours : callable
        ``is_ours(target)``: the existing path is an earlier output of the same kind.
    what : str
        What is written, for the message (e.g. ``"a canonical netCDF file"``).

    Raises
    ------
    DataError
        ``target`` exists and is not ``what``, or is and ``overwrite`` is false.
    """
    if not target.parent.is_dir():
        raise DataError(f"{target}: parent directory {target.parent} does not exist")
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink() or not is_ours(target):
        raise DataError(
            f"{target}: exists and is not {what} (found {_found(target)}); refusing to"
            " replace it: choose a new output path"
        )
    if not overwrite:
        raise DataError(
            f"{target}: exists ({what} from an earlier run); pass --overwrite (overwrite=True)"
            " to replace it, or choose a new output path"
        )


def _lock_file(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def _describe_holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return (
        f"process {info.get('pid', '?')} on {info.get('host', '?')}"
        f" ({info.get('command', '?')}, started {info.get('started', '?')})"
    )


@contextlib.contextmanager
def output_lock(target: str | os.PathLike[str], command: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``target`` for one writer (module docstring, step 2).

    Re-entrant within a process. Raises :class:`~surrogates.DataError` naming the other
    writer when one holds it.
    """
    lock = _lock_file(Path(target).absolute())
    key = str(lock)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    if not lock.parent.is_dir():
        raise DataError(f"{target}: parent directory {lock.parent} does not exist")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise DataError(
                f"{target}: being written by {_describe_holder(lock)}; wait for it to finish"
                " or choose another output path"
            ) from None
        try:  # the holder before us may have removed the file we locked: lock the new one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command
        or " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[
            :200
        ],  # fmt: skip
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(info).encode())
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success move it to ``target``, else remove it.

    An existing directory at ``target`` is replaced by two renames (a crash between them
    leaves the old one at ``<name>.old-<id>``); check with :func:`check_output` first.
    """
    if not target.parent.is_dir():
        raise DataError(f"{target}: parent directory {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def atomic_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary sibling, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
