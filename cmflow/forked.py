"""Work done in a forked process while this one goes on: the other core's share of a run.

`Forked(fn)` forks; the child runs `fn()`, which returns bytes, writes them to an anonymous
temporary file and exits at once (`os._exit`: never back into the caller's code, its exit
handlers or its buffered output). `result()` waits for the child and gives those bytes, or
None when the child failed, was killed or could not be started: the caller then does the
work itself, so a fault there costs time, never a different answer.

Only bytes cross, and only our own: what `fn` made in a process this one forked, in a file
no other process can open (unlinked, or never named: `tempfile.TemporaryFile`). Nothing is
unpickled. Where `os.fork` does not exist, `Forked` runs nothing and `result()` is None.
"""

from __future__ import annotations

import gc
import os
import signal
import tempfile
from collections.abc import Callable
from contextlib import suppress
from typing import IO


class Forked:
    """`fn()` in a forked child; its bytes from `result()` (None: do the work here)."""

    def __init__(self, fn: Callable[[], bytes]) -> None:
        self._pid = 0
        self._file: IO[bytes] | None = None
        self._result: bytes | None = None
        if not hasattr(os, "fork"):
            return
        try:
            out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `result`, after the child)
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:  # no process to spare
            out.close()
            return
        if pid == 0:
            _child(fn, out.fileno())  # never returns
        self._pid, self._file = pid, out

    def result(self) -> bytes | None:
        """The child's bytes, once it has exited with success; None otherwise."""
        if self._pid:
            pid, self._pid = self._pid, 0
            try:
                _ignored, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = 1
            out, self._file = self._file, None
            assert out is not None
            with out:
                if os.waitstatus_to_exitcode(status) == 0:
                    self._result = _read_all(out.fileno())
        return self._result

    def cancel(self) -> None:
        """Stop the child if it still runs (its work is moot), and let it go."""
        if self._pid:
            with suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            self.result()
            self._result = None


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


def _child(fn: Callable[[], bytes], fd: int) -> None:
    code = 1
    try:
        gc.disable()  # short-lived: the collector would only walk the parent's objects
        data = memoryview(fn())
        while data:
            data = data[os.write(fd, data) :]
        code = 0
    finally:
        os._exit(code)
