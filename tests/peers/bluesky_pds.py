"""Run a real Bluesky PDS (``@atproto/pds`` + in-memory PLC) for cmflow's tests.

The server lives in ``tests/peers/bluesky`` (``start.js``, pinned by ``package-lock.json``,
installed by ``tests/peers/bluesky/setup.sh``). Both servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

PDS_DIR = Path(__file__).resolve().parent / "bluesky"
START_SCRIPT = PDS_DIR / "start.js"
SETUP_SCRIPT = "tests/peers/bluesky/setup.sh"
START_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0
MIN_NODE_MAJOR = 20


class PdsError(RuntimeError):
    """The PDS could not be started or answered an XRPC call with an error."""


def _node() -> str | None:
    return shutil.which("node")


def pds_available() -> str | None:
    """None when the PDS tier can run here, else the reason it cannot."""
    node = _node()
    if node is None:
        return "node not found: the Bluesky PDS tier needs Node.js >= 20"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"node does not run: {exc}"
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        return f"cannot parse node version {version!r}"
    if major < MIN_NODE_MAJOR:
        return f"node {version} is too old for the Bluesky PDS tier (need >= {MIN_NODE_MAJOR})"
    modules = PDS_DIR / "node_modules"
    for package in ("@atproto/pds", "@did-plc/server"):
        if not (modules / package / "package.json").is_file():
            return f"node_modules missing in {PDS_DIR}: run {SETUP_SCRIPT}"
    if not (modules / ".lock-hash").is_file():
        return f"node_modules incomplete in {PDS_DIR}: run {SETUP_SCRIPT}"
    return None


class PdsServer:
    """Context manager running ``node start.js``: a PDS and a PLC on 127.0.0.1.

    ``url`` is the PDS base URL (``http://127.0.0.1:PORT``), ``plc_url`` the PLC's.
    Extra environment variables (for example ``{"PDS_RATE_LIMITS_ENABLED": "true"}``)
    are passed to the PDS.
    """

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        pds_port: int = 0,
        plc_port: int = 0,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self._extra_env = dict(env or {})
        self._pds_port = pds_port
        self._plc_port = plc_port
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._url: str | None = None
        self._plc_url: str | None = None
        self.start_seconds: float | None = None

    # -- public API ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._url is None:
            raise PdsError("PDS server is not running")
        return self._url

    @property
    def plc_url(self) -> str:
        if self._plc_url is None:
            raise PdsError("PDS server is not running")
        return self._plc_url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stderr_text(self) -> str:
        """Everything the node process wrote to stderr so far."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.seek(0, os.SEEK_END)
        return text

    def start(self) -> PdsServer:
        if self._proc is not None:
            raise PdsError("PDS server already started")
        reason = pds_available()
        if reason is not None:
            raise PdsError(reason)
        node = _node()
        assert node is not None
        env = {**os.environ, **self._extra_env}
        env.pop("PDS_PORT", None)
        env.pop("PLC_PORT", None)
        cmd = [
            node,
            str(START_SCRIPT),
            "--watch-stdin",
            "--pds-port",
            str(self._pds_port),
            "--plc-port",
            str(self._plc_port),
        ]
        started = time.monotonic()
        # Kept open for the server's lifetime, closed in stop().
        self._stderr = tempfile.TemporaryFile(  # noqa: SIM115
            mode="w+", encoding="utf-8", errors="replace"
        )
        self._proc = subprocess.Popen(
            cmd,
            cwd=PDS_DIR,
            env=env,
            stdin=subprocess.PIPE,  # start.js stops when this pipe closes
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read_stdout, name="pds-stdout", daemon=True)
        self._reader.start()
        try:
            info = self._wait_ready(started)
            self._url = str(info["pds"])
            self._plc_url = str(info["plc"])
            self._check_health(started)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        finally:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            if self._reader is not None:
                self._reader.join(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
            self._proc = None
            self._url = None
            self._plc_url = None

    def __enter__(self) -> PdsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------
    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            for line in proc.stdout:
                self._stdout_lines.put(line)
        except (OSError, ValueError):
            pass
        finally:
            self._stdout_lines.put(None)

    def _failure(self, message: str) -> PdsError:
        stderr = self.stderr_text().strip()
        if stderr:
            message += "\n--- start.js stderr ---\n" + stderr[-4000:]
        return PdsError(message)

    def _wait_ready(self, started: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None
        while True:
            remaining = self._start_timeout - (time.monotonic() - started)
            if remaining <= 0:
                raise self._failure(f"PDS did not report ready within {self._start_timeout:.0f} s")
            try:
                line = self._stdout_lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                proc.wait(timeout=15)
                raise self._failure(f"start.js exited with code {proc.returncode} before ready")
            line = line.strip()
            if not line:
                continue
            try:
                info = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours: start.js only prints one JSON object
            if isinstance(info, dict) and "pds" in info and "plc" in info:
                return info

    def _check_health(self, started: float) -> None:
        assert self._url is not None
        last_error = ""
        while time.monotonic() - started < self._start_timeout:
            try:
                resp = requests.get(f"{self._url}/xrpc/_health", timeout=5)
                if resp.status_code == 200 and "version" in resp.json():
                    return
                last_error = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except (requests.RequestException, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise self._failure(f"PDS at {self._url} is not healthy: {last_error}")


def xrpc_post(
    url: str,
    method: str,
    body: dict[str, Any],
    access_jwt: str | None = None,
) -> dict[str, Any]:
    """POST a JSON body to ``/xrpc/<method>``; raise PdsError on any non-200 answer."""
    headers = {"Authorization": f"Bearer {access_jwt}"} if access_jwt else {}
    resp = requests.post(
        f"{url.rstrip('/')}/xrpc/{method}", json=body, headers=headers, timeout=HTTP_TIMEOUT
    )
    if resp.status_code != 200:
        raise PdsError(f"{method} failed: HTTP {resp.status_code}: {resp.text[:500]}")
    data = resp.json()
    if not isinstance(data, dict):
        raise PdsError(f"{method}: unexpected answer {data!r}")
    return data


def create_account(
    url: str, handle: str, password: str, email: str | None = None
) -> dict[str, Any]:
    """com.atproto.server.createAccount; returns the answer (did, handle, accessJwt, ...)."""
    body = {
        "handle": handle,
        "email": email or f"{handle.split('.')[0]}@example.test",
        "password": password,
    }
    data = xrpc_post(url, "com.atproto.server.createAccount", body)
    for key in ("did", "handle", "accessJwt"):
        if key not in data:
            raise PdsError(f"createAccount answer has no {key!r}: {data!r}")
    return data


def create_app_password(url: str, access_jwt: str, name: str) -> str:
    """com.atproto.server.createAppPassword; returns the app password (xxxx-xxxx-xxxx-xxxx)."""
    data = xrpc_post(url, "com.atproto.server.createAppPassword", {"name": name}, access_jwt)
    password = data.get("password")
    if not isinstance(password, str):
        raise PdsError(f"createAppPassword answer has no password: {data!r}")
    return password
