"""A real Bluesky network (PLC, PDS and AppView from ``@atproto/dev-env``) on 127.0.0.1,
with the private PostgreSQL and Redis the AppView needs, for cmflow's metrics tests.

Installed by ``tests/peers/appview/setup.sh`` (``npm ci`` of the pinned lockfile, and the
Debian packages ``postgresql-15`` and ``redis-server`` when it may install them).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent / "appview"
SETUP = "tests/peers/appview/setup.sh"
START_TIMEOUT = 240.0


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15"):
        path = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if path.is_file():
            return str(path)
    return None


def unavailable() -> str | None:
    """None when the AppView tier can run here, else why not."""
    if shutil.which("node") is None:
        return "node not found: the Bluesky AppView tier needs Node.js >= 20"
    if not (HERE / "node_modules" / "@atproto" / "dev-env" / "package.json").is_file():
        return f"@atproto/dev-env is not installed in {HERE}: run {SETUP}"
    for name in ("initdb", "pg_ctl"):
        if _pg_bin(name) is None:
            return f"PostgreSQL's {name} not found (Debian: postgresql-15): run {SETUP} as root"
    if shutil.which("redis-server") is None:
        return f"redis-server not found (Debian: redis-server): run {SETUP} as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as `nobody` then."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--", *argv]
    return argv


class Network:
    """Context manager: PostgreSQL, Redis and `node start.js`; `pds` and `appview` URLs."""

    def __init__(self) -> None:
        self.pds = ""
        self.appview = ""
        self._tmp: str | None = None
        self._procs: list[subprocess.Popen[Any]] = []
        self._pgdata: Path | None = None
        self._stderr: list[str] = []

    def __enter__(self) -> Network:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="cmflow-appview-")
        tmp = Path(self._tmp)
        if os.geteuid() == 0:
            shutil.chown(tmp, "nobody", "nogroup")
        redis_port, pg_port = _free_port(), _free_port()
        self._procs.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        self._pgdata = tmp / "pg"
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        assert initdb and pg_ctl
        subprocess.run(
            _as_owner(
                [initdb, "-D", str(self._pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
            cwd=tmp,
        )
        options = f"-p {pg_port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(
            _as_owner(
                [
                    pg_ctl,
                    "-D",
                    str(self._pgdata),
                    "-o",
                    options,
                    "-l",
                    str(tmp / "pg.log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            cwd=tmp,
        )
        env = {
            **os.environ,
            "DB_POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
            "REDIS_HOST": f"127.0.0.1:{redis_port}",
            "LOG_ENABLED": "false",
        }
        node = subprocess.Popen(
            ["node", str(HERE / "start.js")],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._procs.append(node)
        lines: queue.Queue[str] = queue.Queue()
        assert node.stdout is not None and node.stderr is not None

        def pump(stream: IO[str], into: Any) -> None:
            for line in stream:
                into(line)

        threading.Thread(target=pump, args=(node.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(node.stderr, self._keep), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if time.monotonic() > deadline or node.poll() is not None:
                    time.sleep(0.3)  # let the last error lines arrive
                    raise RuntimeError(f"the Bluesky network did not start: {self.log()}") from None
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(line)
                self.pds, self.appview = data["pds"], data["appview"]
                return

    def _keep(self, line: str) -> None:
        self._stderr.append(line)
        del self._stderr[:-40]

    def log(self) -> str:
        return "".join(self._stderr[-20:])[-3000:]

    def close(self) -> None:
        for proc in reversed(self._procs):
            if proc.stdin:  # node: EOF on stdin closes the network cleanly
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            else:
                proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    with contextlib.suppress(OSError):
                        stream.close()
        self._procs.clear()
        pg_ctl = _pg_bin("pg_ctl")
        if self._pgdata is not None and pg_ctl and (self._pgdata / "postmaster.pid").exists():
            subprocess.run(
                _as_owner([pg_ctl, "-D", str(self._pgdata), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
