"""Advisory locks that die with their process (``flock``), and worker processes that die with their parent.

A writer holds :class:`FolderLock` on its output folder for its whole life, so a second process writing to
the same folder is refused at once instead of interleaving lines. The lock is a file *beside* the folder
(``.NAME.lock``), so a finished dataset holds nothing but its own files; the kernel releases it when the
holder exits in any way, even ``kill -9``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import sys
import threading
import time
from pathlib import Path

from simreal.utils.errors import SimrealError


class FolderLock:
    """An exclusive, non-blocking lock on ``folder`` (which need not exist yet); ``what`` names the holder
    in the refusal."""

    def __init__(self, folder: str | Path, what: str = "another simreal process"):
        folder = Path(folder)
        self.path = folder.parent / f".{folder.name}.lock"
        self.folder, self.what = folder, what
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SimrealError(f"{self.folder}: {self.what} is writing here (lock {self.path.name}); wait for "
                                   "it to finish or stop it") from None
            # the holder before us may have unlinked the file between our open and our lock: retry on the new one
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return self
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a worker process: it is killed when ``parent_pid`` exits (Linux: the kernel's
    parent-death signal; elsewhere, and as a backstop, a thread that watches the parent id)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()
