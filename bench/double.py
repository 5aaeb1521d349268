"""The OpenProject double in its own process, so its CPU never counts against the measured client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class DoubleProcess:
    """``python -m tests.openproject_double`` with N work packages and a server cost, every work package
    serialised before it announces its port (first renders are the double's cost, not the server's)."""

    def __init__(self, work_dir: Path, *, work_packages: int, latency_ms: float, per_record_ms: float,
                 api_key: str, python: str = sys.executable, startup_timeout_s: float = 300.0,
                 projects: int = 4) -> None:
        self.work_packages = work_packages
        self.projects = projects
        self.latency_ms = latency_ms
        self.per_record_ms = per_record_ms
        self.api_key = api_key
        self._python = python
        self._timeout = startup_timeout_s
        self._dir = work_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.startup_s = 0.0

    @property
    def url(self) -> str:
        """Base URL of the running double."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DoubleProcess:
        """Start the double and wait until it has written its port (after pre-rendering)."""
        if self._process is not None:
            raise RuntimeError("this double is already running")
        self._dir.mkdir(parents=True, exist_ok=True)
        port_file = self._dir / f"double-{self.work_packages}-{self.projects}.port"
        port_file.unlink(missing_ok=True)
        command = [self._python, "-m", "tests.openproject_double", "--port", "0",
                   "--work-packages", str(self.work_packages), "--projects", str(self.projects), "--latency-ms", str(self.latency_ms),
                   "--per-record-ms", str(self.per_record_ms), "--api-key", self.api_key,
                   "--port-file", str(port_file), "--prerender", "all", "--stats"]
        log = open(self._dir / f"double-{self.work_packages}.log", "wb")  # noqa: SIM115 - lives with the process
        start = time.perf_counter()
        self._process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        log.close()
        while True:
            text = port_file.read_text() if port_file.exists() else ""
            if text.endswith("\n"):
                self.port = int(text)
                break
            if self._process.poll() is not None:
                raise RuntimeError(f"the OpenProject double exited with {self._process.returncode}; "
                                   f"see {self._dir / f'double-{self.work_packages}.log'}")
            if time.perf_counter() - start > self._timeout:
                self.stop()
                raise RuntimeError(f"the OpenProject double did not start within {self._timeout:.0f} s")
            time.sleep(0.05)
        self.startup_s = time.perf_counter() - start
        return self

    def stats(self) -> dict[str, Any]:
        """Requests the double has seen so far (GET /__stats, itself not counted)."""
        with urllib.request.urlopen(f"{self.url}/__stats", timeout=30) as response:  # noqa: S310 - loopback
            return json.load(response)  # type: ignore[no-any-return]

    def cpu_s(self) -> float | None:
        """CPU time (user + system) the double has used so far; None where /proc is missing."""
        if self._process is None:
            return None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def pid(self) -> int | None:
        """The double's process id while it runs."""
        return None if self._process is None else self._process.pid

    def __enter__(self) -> DoubleProcess:
        return self if self._process is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def request_delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """Requests between two stats snapshots: (total, per route)."""
    routes = {route: count - before["by_route"].get(route, 0) for route, count in after["by_route"].items()}
    return after["requests"] - before["requests"], {r: n for r, n in routes.items() if n}


def child_env(extra_pythonpath: str | None = None) -> dict[str, str]:
    """The environment of measured processes: no TAP_OPENPROJECT_* / OPENPROJECT_* leaking from the shell,
    so the tap runs with its default settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TAP_OPENPROJECT_", "OPENPROJECT_")) and k != "SINGER_SDK_LOG_CONFIG"}
    if extra_pythonpath:
        env["PYTHONPATH"] = extra_pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
