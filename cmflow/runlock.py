"""Who holds a claim, whether it is still alive, and the run lock of a checkout.

A claim (see `cmflow.ledger`) records the process that made it: host name, pid, the
process's start time (so that a recycled pid is not taken for the claimer) and, under GitHub
Actions, the workflow run. A later run decides from that, at once, whether the claimer is
gone — then it reconciles — instead of waiting for the lease to run out:

- under GitHub Actions, a claim made by another workflow run (or another attempt of it) is
  dead: the workflow's `concurrency` group lets a run start only once the previous one ended;
- on the same machine (same boot, same pid namespace), a claim whose process no longer runs
  (or whose pid now belongs to another process) is dead;
- otherwise (another machine, or a claim written before cmflow recorded its claimer) the
  lease decides, measured on the real clock.

Two runs in the same checkout are kept apart by an OS lock (`flock`) the kernel drops when
the process dies, however it dies: no stale lock file to clean after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cmflow.errors import CmflowError, ExitCode
from cmflow.i18n import _

LOCK_DIR = ".cmflow"  # under the data folder; ignores itself (see `RunLock`)
LOCK_NAME = "run.lock"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _space() -> str | None:
    """This kernel boot and pid namespace: pids mean the same process only within it."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot}/{ns}" if boot else None


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat, field 22), or
    None when it does not run (or is a zombie), or when /proc is not there."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    rest = stat[stat.rfind(")") + 2 :].split()
    if len(rest) < 20 or rest[0] in ("Z", "X"):
        return None
    return rest[19]


@dataclass(frozen=True)
class Claimer:
    """The process that made a claim, as recorded in it."""

    host: str
    pid: int
    started: str | None = None  # process start (ticks since boot), from /proc
    space: str | None = None  # boot id / pid namespace: where `pid` means this process
    github_run: str | None = None  # "<GITHUB_RUN_ID>/<GITHUB_RUN_ATTEMPT>"

    @classmethod
    def here(cls, env: Mapping[str, str] | None = None) -> Claimer:
        env = os.environ if env is None else env
        run = None
        if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
            run = f"{env['GITHUB_RUN_ID']}/{env.get('GITHUB_RUN_ATTEMPT') or '1'}"
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid), _space(), run)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "host": self.host,
            "pid": self.pid,
            "started": self.started,
            "space": self.space,
            "github_run": self.github_run,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Claimer | None:
        """None when the record holds no usable claimer (an older record, or a hand edit)."""
        host, pid = data.get("host"), data.get("pid")
        if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
            return None

        def text(key: str) -> str | None:
            v = data.get(key)
            return v if isinstance(v, str) else None

        return cls(host, pid, text("started"), text("space"), text("github_run"))

    def alive(self) -> bool | None:
        """Whether this process still runs, seen from here: None when it cannot be told
        (another machine or pid namespace, or no /proc)."""
        here = _space()
        if self.space is None or here is None or self.space != here:
            return None
        if self.started is None:
            return None
        return process_start(self.pid) == self.started


def claim_holder(
    claimer: Mapping[str, Any] | None,
    leased_at: datetime | None,
    real_now: datetime,
    lease: timedelta,
    here: Claimer,
) -> str | None:
    """Why a claim is taken as still held by a live run (its pair is left alone), or None
    when its claimer is gone and the claim is to be reconciled now."""
    who = Claimer.from_dict(claimer) if claimer else None
    if who is not None:
        if here.github_run and who.github_run and who.github_run != here.github_run:
            return None  # an earlier workflow run: the concurrency group says it ended
        alive = who.alive()
        if alive is False:
            return None
        if alive:
            return _("in progress: process {pid} on {host} still runs").format(
                pid=who.pid, host=who.host
            )
    if leased_at is not None and real_now - leased_at < lease:
        until = f"{(leased_at + lease):%H:%M} UTC"
        if who is not None:
            return _("in progress on {host} (lease until {time})").format(host=who.host, time=until)
        return _("in progress (lease until {time})").format(time=until)
    return None


class RunBusy(CmflowError):
    """Another publish run holds this checkout's run lock."""

    exit_code = ExitCode.FINDINGS


class RunLock:
    """An exclusive `flock` on `<data>/.cmflow/run.lock` for the whole publish run.

    The folder holds a `.gitignore` of `*`: git never lists it, so neither `--commit` nor a
    `git add -A` commits the lock, and it needs no line in the repository's .gitignore.
    """

    def __init__(self, root: Path, data_dir: str = "data") -> None:
        self.path = root / data_dir / LOCK_DIR / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self, wait: float = 2.0) -> None:
        """Take the lock, waiting up to `wait` seconds for a run that is finishing; else
        raise RunBusy naming the run that holds it."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock; claims and pushes still keep runs apart
            return
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# cmflow's run lock: never committed\n*\n", encoding="utf-8")
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or _("another process")
                    fh.close()
                    raise RunBusy(
                        _(
                            "another `cmflow publish` is running in this checkout ({holder}): "
                            "this run sent nothing; run it again once that one has ended"
                        ).format(holder=holder)
                    ) from None
                time.sleep(0.1)
        me = Claimer.here()
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {me.pid} on {me.host}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None

    @contextlib.contextmanager
    def held(self, wait: float = 2.0) -> Iterator[None]:
        self.acquire(wait)
        try:
            yield
        finally:
            self.release()
