"""Work done in a forked process while this one goes on: the other core's share of a run.

`Forked(fn, parts)` forks; the child runs `fn()`, which yields up to `parts` pieces of bytes,
one after the other. Each piece goes to its own anonymous temporary file, then one byte on a
pipe says it is whole, so that this process can take the first piece (`part(0)`) while the
child still works on the next. The child then exits at once (`os._exit`: never back into the
caller's code, its exit handlers or its buffered output). A piece the child did not finish
(it failed, was killed, or could not be started) is None: the caller then does that work
itself, so a fault there costs time, never a different answer.

Only bytes cross, and only our own: what `fn` made in a process this one forked, in files no
other process can open (`_anonymous_file`: in memory, or unlinked, never named) and a pipe
no other process holds. Nothing is unpickled. Where `os.fork` does not exist, nothing runs and
every part is None.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable, Iterable
from contextlib import ExitStack, suppress


class Forked:
    """`fn()`'s pieces of bytes, made in a forked child; `part(i)` waits for piece `i`."""

    def __init__(self, fn: Callable[[], Iterable[bytes]], parts: int = 1) -> None:
        self._pid = 0
        self._files: list[int] = []  # a descriptor per piece
        self._ready = -1  # the pipe's read end, while the child may still say more
        self._done = 0  # pieces the child said are whole
        self._got: dict[int, bytes] = {}
        if not hasattr(os, "fork"):
            return
        with ExitStack() as undo:
            try:
                files: list[int] = []
                for _ in range(parts):
                    files.append(_anonymous_file())
                    undo.callback(os.close, files[-1])
                ready, say = os.pipe()
                undo.callback(os.close, ready)
                undo.callback(os.close, say)
                pid = os.fork()
            except OSError:  # no file or process to spare: the caller does the work
                return
            if pid == 0:
                _child(fn, files, say)  # never returns
            undo.pop_all()
        os.close(say)
        self._pid, self._files, self._ready = pid, files, ready

    def part(self, i: int) -> bytes | None:
        """Piece `i`, once the child has made it whole; None if it never will."""
        if i in self._got:
            return self._got[i]
        while self._done <= i and self._ready >= 0:
            try:
                said = os.read(self._ready, 64)
            except InterruptedError:
                continue
            except OSError:
                said = b""
            if not said:  # the child is gone: what it did not say whole, it never will
                self._end()
                break
            self._done += len(said)
        if i >= self._done or i >= len(self._files):
            return None
        self._got[i] = _read_all(self._files[i])
        if self._done == len(self._files):
            self._end()  # every piece said: the child is done (or about to be)
        return self._got[i]

    def result(self) -> bytes | None:
        """The first piece, once the child has exited; None if it failed."""
        got = self.part(0)
        self._end()
        return got

    def cancel(self) -> None:
        """Stop the child if it still runs (its work is moot), and let it go."""
        if self._pid:
            with suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        self._done = 0  # nothing of it is wanted now
        self._end()
        self._got.clear()

    def _end(self) -> None:
        """Wait for the child and let its files and pipe go (what was read stays)."""
        if self._pid:
            pid, self._pid = self._pid, 0
            # However it ended, the pieces it said were whole are (each said after its
            # last byte was written).
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self._ready >= 0:
            os.close(self._ready)
            self._ready = -1
        files, self._files = self._files, []
        for i, fd in enumerate(files):
            if i < self._done and i not in self._got:
                self._got[i] = _read_all(fd)
            os.close(fd)


def _anonymous_file() -> int:
    """A descriptor on a new empty file no other process can open: one in memory where the
    system has them (Linux), else a temporary file already unlinked."""
    if hasattr(os, "memfd_create"):
        with suppress(OSError):  # none to spare, or refused: the other kind
            return os.memfd_create("cmflow-part", os.MFD_CLOEXEC)
    import tempfile  # only here: its import costs start-up time

    with tempfile.TemporaryFile() as fh:
        return os.dup(fh.fileno())  # the file lives on with the copy (already unlinked)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts: list[bytes] = []
    at = 0
    while at < size:
        got = os.pread(fd, size - at, at)
        if not got:
            break
        parts.append(got)
        at += len(got)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _child(fn: Callable[[], Iterable[bytes]], files: list[int], say: int) -> None:
    code = 1
    try:
        gc.disable()  # short-lived: the collector would only walk the parent's objects
        for fd, piece in zip(files, fn(), strict=False):
            _write_all(fd, piece)
            os.write(say, b"1")  # this piece is whole
        code = 0
    finally:
        os._exit(code)
