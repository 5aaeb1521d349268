"""What a run did, as it goes and at the end: progress lines, a per-stream summary, METRIC counters, and a
Prometheus textfile for node-exporter's textfile collector (so scheduled jobs can alert on failures, staleness
and volume)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

if t.TYPE_CHECKING:
    from tap_openproject.timeutil import Clock

logger = logging.getLogger("tap-openproject")
#: The statistics label of requests made before the streams (credential probe, custom-field discovery).
STARTUP = "startup"
metrics_logger = logging.getLogger("singer_sdk.metrics")


@dataclass
class Counters:
    """What the retry policy, the breaker and the rate-limit pause did in a run, for logs and metrics."""

    attempts: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    breaker_trips: int = 0
    waits: list[float] = field(default_factory=list)


@dataclass
class StreamStats:
    """Counters of one stream in one run."""

    records: int = 0
    requests: int = 0
    failed_attempts: int = 0
    waits: int = 0
    waited_seconds: float = 0.0
    total: int | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def duration(self) -> float:
        """Seconds from the first to the last activity of the stream."""
        if self.started is None or self.finished is None:
            return 0.0
        return self.finished - self.started


@dataclass
class RunStats:
    """Per-stream statistics of a run, updated from the main thread and from request threads."""

    clock: Clock
    progress_interval: float = 5.0
    streams: dict[str, StreamStats] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_progress: float | None = None

    def of(self, stream: str) -> StreamStats:
        """The stats of a stream (created on first use; reading an existing one takes no lock)."""
        stats = self.streams.get(stream)
        if stats is None:
            with self._lock:
                stats = self.streams.setdefault(stream, StreamStats())
        return stats

    def touch(self, stream: str) -> StreamStats:
        """Note activity now; returns the stream's stats."""
        stats = self.of(stream)
        now = self.clock.monotonic()
        if stats.started is None:
            stats.started = now
        stats.finished = now
        return stats

    def request(self, stream: str) -> None:
        """One successful request."""
        stats = self.touch(stream)
        with self._lock:
            stats.requests += 1

    def failed_attempt(self, stream: str) -> None:
        """One failed attempt (retried or not)."""
        stats = self.touch(stream)
        with self._lock:
            stats.failed_attempts += 1

    def waited(self, stream: str, seconds: float) -> None:
        """One wait before a retry."""
        stats = self.of(stream)
        with self._lock:
            stats.waits += 1
            stats.waited_seconds += seconds

    def record(self, stream: str) -> None:
        """One record written (main thread); logs progress at most every progress_interval seconds."""
        stats = self.touch(stream)
        now = t.cast("float", stats.finished)
        stats.records += 1
        if self.progress_interval <= 0:
            return
        if self._last_progress is None:
            self._last_progress = now
        elif now - self._last_progress >= self.progress_interval:
            self._last_progress = now
            logger.info("%s", progress_line(stream, stats, now))

    def summary_lines(self, unavailable: dict[str, str]) -> list[str]:
        """One line per stream that did anything, then skipped streams."""
        lines = []
        for name, stats in sorted(self.streams.items()):
            if name == STARTUP and not stats.records:
                lines.append(f"startup: {stats.requests} requests (credentials, custom fields)")
                continue
            lines.append(
                f"{name}: {stats.records} records, {stats.requests} requests, "
                f"{stats.failed_attempts} failed attempts, {stats.waits} waits ({stats.waited_seconds:.1f} s), "
                f"{stats.duration:.1f} s"
            )
        lines += [f"{name}: skipped ({reason})" for name, reason in sorted(unavailable.items())]
        return lines


def progress_line(stream: str, stats: StreamStats, now: float) -> str:
    """e.g. 'Progress work_packages: 12000/20000 (60.0%), 2400 records/s, ETA 3 s'."""
    elapsed = max(now - (stats.started or now), 1e-9)
    rate = stats.records / elapsed
    if stats.total:
        percent = min(100.0, 100.0 * stats.records / stats.total)
        remaining = max(0, stats.total - stats.records)
        eta = f"ETA {remaining / rate:.0f} s" if rate > 0 else "ETA unknown"
        return f"Progress {stream}: {stats.records}/{stats.total} ({percent:.1f}%), {rate:.0f} records/s, {eta}"
    return f"Progress {stream}: {stats.records} records, {rate:.0f} records/s"


def log_run_summary(
    stats: RunStats, counters: Counters, unavailable: dict[str, str], *, breaker_open: bool
) -> None:
    """A run's last lines: one per stream (records, requests, failed attempts, waits, duration), the run's totals
    and resilience counters (also as METRIC lines), and the skipped streams."""
    for line in stats.summary_lines(unavailable):
        logger.info("Summary %s", line)
    logger.info(
        "Run summary: %d records, %d requests; %d retries, %d rate-limit waits, %.1f s waited, breaker %s",
        sum(s.records for s in stats.streams.values()),
        sum(s.requests for s in stats.streams.values()),
        counters.retries,
        counters.rate_limit_waits,
        counters.waited_seconds,
        "open" if breaker_open else "closed",
    )
    log_counters(counters)
    if unavailable:
        logger.warning(
            "Skipped streams: %s", "; ".join(f"{name} ({reason})" for name, reason in sorted(unavailable.items()))
        )


def log_counters(counters: Counters) -> None:
    """METRIC lines, in the SDK's format, for what the SDK does not count."""
    for name, value in (
        ("retry_count", counters.retries),
        ("rate_limit_wait_count", counters.rate_limit_waits),
        ("circuit_breaker_trip_count", counters.breaker_trips),
    ):
        point = {"type": "counter", "metric": name, "value": value, "tags": {"tap": "tap-openproject"}}
        metrics_logger.info("METRIC: %s", json.dumps(point, separators=(",", ":")))


def write_textfile(
    path: str | os.PathLike[str],
    *,
    stats: RunStats,
    counters: Counters,
    unavailable: dict[str, str],
    exit_code: int,
    finished: float,
) -> None:
    """Prometheus text format, written atomically (tmp file + rename). The last success time is carried over
    from the previous file when this run failed, so staleness alerts keep working."""
    target = Path(path)
    success = exit_code == 0
    last_success = finished if success else _previous_value(target, "tap_openproject_last_success_timestamp_seconds")
    lines = [
        "# HELP tap_openproject_last_run_timestamp_seconds When the last run ended (Unix time).",
        "# TYPE tap_openproject_last_run_timestamp_seconds gauge",
        f"tap_openproject_last_run_timestamp_seconds {finished:.0f}",
        "# HELP tap_openproject_last_run_success 1 if the last run succeeded, else 0.",
        "# TYPE tap_openproject_last_run_success gauge",
        f"tap_openproject_last_run_success {int(success)}",
        "# HELP tap_openproject_last_run_exit_code Exit code of the last run (see README, Exit codes).",
        "# TYPE tap_openproject_last_run_exit_code gauge",
        f"tap_openproject_last_run_exit_code {exit_code}",
        "# HELP tap_openproject_last_run_duration_seconds Duration of the last run.",
        "# TYPE tap_openproject_last_run_duration_seconds gauge",
        f"tap_openproject_last_run_duration_seconds {max(0.0, finished - stats.started):.3f}",
    ]
    if last_success is not None:
        lines += [
            "# HELP tap_openproject_last_success_timestamp_seconds When a run last succeeded (Unix time).",
            "# TYPE tap_openproject_last_success_timestamp_seconds gauge",
            f"tap_openproject_last_success_timestamp_seconds {last_success:.0f}",
        ]
    lines += _per_stream_lines(stats)
    lines += [
        "# HELP tap_openproject_retries Retries in the last run.",
        "# TYPE tap_openproject_retries gauge",
        f"tap_openproject_retries {counters.retries}",
        "# HELP tap_openproject_rate_limit_waits Waits the server asked for (429) in the last run.",
        "# TYPE tap_openproject_rate_limit_waits gauge",
        f"tap_openproject_rate_limit_waits {counters.rate_limit_waits}",
        "# HELP tap_openproject_circuit_breaker_trips Circuit breaker trips in the last run.",
        "# TYPE tap_openproject_circuit_breaker_trips gauge",
        f"tap_openproject_circuit_breaker_trips {counters.breaker_trips}",
        "# HELP tap_openproject_skipped_stream 1 for each stream skipped (missing or forbidden) in the last run.",
        "# TYPE tap_openproject_skipped_stream gauge",
    ]
    lines += [f'tap_openproject_skipped_stream{{stream="{n}"}} 1' for n in sorted(unavailable)]
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o644)  # noqa: S103 - node-exporter reads it; it holds no secret
    os.replace(temporary, target)


def _per_stream_lines(stats: RunStats) -> list[str]:
    per_stream = {
        "records": ("Records delivered in the last run.", lambda s: s.records),
        "requests": ("Successful HTTP requests in the last run.", lambda s: s.requests),
        "failed_attempts": ("Failed HTTP attempts in the last run.", lambda s: s.failed_attempts),
    }
    lines: list[str] = []
    for metric, (help_text, value_of) in per_stream.items():
        lines += [f"# HELP tap_openproject_{metric} {help_text}", f"# TYPE tap_openproject_{metric} gauge"]
        lines += [f'tap_openproject_{metric}{{stream="{n}"}} {value_of(s)}' for n, s in sorted(stats.streams.items())]
    return lines


def _previous_value(path: Path, metric: str) -> float | None:
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(metric + " "):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
