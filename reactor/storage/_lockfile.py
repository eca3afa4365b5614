"""An exclusive, advisory lock file beside a store: one committer per file.

``flock`` locks belong to the open file description, so a second ``open`` of the
lock file is refused even inside the same process, and the kernel drops the lock
when the holder exits or is killed: a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from reactor.errors import StoreLockedError

__all__ = ["LockFile"]


class LockFile:
    """``<path>``, locked with ``flock(LOCK_EX | LOCK_NB)`` and holding the owner's pid."""

    def __init__(self, path: Path, guarded: Path) -> None:
        self.path = path
        self._guarded = guarded
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``StoreLockedError`` naming the file and the holder's pid."""
        if self._fd is not None:
            return
        # os.open gives a non-inheritable (close-on-exec) descriptor, so child
        # processes started with subprocess never hold the lock by accident.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise StoreLockedError(_locked_message(self._guarded, self.path, holder)) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays: unlinking it would race a new owner."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Clear the pid first so nobody reads a stale owner from an unlocked file.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _locked_message(guarded: Path, lock: Path, holder: int | None) -> str:
    if holder is None:
        who = "another process (its pid is not recorded yet)"
    elif holder == os.getpid():
        who = f"another store in this process (pid {holder})"
    else:
        who = f"process {holder}"
    return (
        f"the store {guarded} is already open by {who}; only one process may serve a "
        f"store file at a time (lock file: {lock})"
    )
