"""Run the tap against the double and read what it wrote: in process (fast, injectable clock) or as the real
`tap-openproject` command (exit codes, stderr)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tap_openproject.errors import Interrupted, TapOpenProjectError
from tap_openproject.tap import TapOpenProject

API_KEY = "test-key-for-double-5f1c9e0b7a"
REPO = Path(__file__).resolve().parent.parent


class FakeClock:
    """Time that only moves when the tap sleeps; records every wait it asked for."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def monotonic(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += max(0.0, seconds)


@dataclass
class SyncResult:
    """The Singer messages of one run, split by kind."""

    messages: list[dict[str, t.Any]]
    error: BaseException | None = None
    tap: TapOpenProject | None = None
    records: dict[str, list[dict[str, t.Any]]] = field(default_factory=dict)
    states: list[dict[str, t.Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])
            elif message["type"] == "STATE":
                self.states.append(message["value"])

    def ids(self, stream: str) -> list[int]:
        """Record ids of a stream in delivery order."""
        return [r["id"] for r in self.records.get(stream, [])]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1] if self.states else {}


def config_for(op: t.Any, **overrides: t.Any) -> dict[str, t.Any]:
    """A valid config for the double at `op`."""
    return {"base_url": op.url, "api_key": API_KEY, **overrides}


def catalog_for(config: dict[str, t.Any], streams: t.Iterable[str]) -> dict[str, t.Any]:
    """The tap's catalog with only `streams` selected."""
    wanted = set(streams)
    catalog = TapOpenProject(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def parse_messages(text: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_sync(
    config: dict[str, t.Any],
    *,
    streams: t.Iterable[str] | None = None,
    state: dict[str, t.Any] | None = None,
    clock: FakeClock | None = None,
) -> SyncResult:
    """Sync in process, as the CLI would (probe, streams, last state on failure); errors are returned."""
    out = io.StringIO()
    error: BaseException | None = None
    tap = None
    with contextlib.redirect_stdout(out):
        try:
            catalog = catalog_for(config, streams) if streams is not None else None
            tap = TapOpenProject(config=config, state=state, catalog=catalog, clock=clock or FakeClock())
            tap.run()
        except (TapOpenProjectError, Interrupted) as exc:
            error = exc
    return SyncResult(parse_messages(out.getvalue()), error=error, tap=tap)


def write_config(tmp_path: Path, config: dict[str, t.Any], name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config), encoding="utf-8")
    path.chmod(0o600)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the developer's tap settings (they would leak into tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_OPENPROJECT_", "OPENPROJECT_"))}
    env.pop("SINGER_SDK_LOG_CONFIG", None)
    env.update(extra)
    return env


def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120, **kwargs: t.Any
) -> subprocess.CompletedProcess[str]:
    """The real command, `python -m tap_openproject ARGS`."""
    return subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "tap_openproject", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=timeout,
        cwd=REPO,
        check=False,
        **kwargs,
    )


def all_of(op: t.Any, collection: str) -> list[dict[str, t.Any]]:
    """Every element of a collection of the double, rendered as the API would."""
    return [op.store.get(collection, ident) for ident in op.store.ids(collection)]
