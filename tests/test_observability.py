"""Progress lines during a sync, a per-stream summary at the end, METRIC counters, and the Prometheus textfile."""

from __future__ import annotations

import logging
import re

from tests.helpers import FakeClock, config_for, run_sync
from tests.openproject_double import Fault

PROGRESS = re.compile(r"Progress work_packages: (\d+)/(\d+) \((\d+\.\d)%\), \d+ records/s, ETA \d+ s")


class TickingClock(FakeClock):
    """Monotonic time that moves 10 ms per reading, so progress intervals pass without sleeping."""

    def monotonic(self) -> float:
        self.time += 0.01
        return self.time


def test_progress_lines_show_count_total_percentage_rate_and_eta(op, caplog):
    caplog.set_level(logging.INFO)
    result = run_sync(config_for(op, progress_interval=0.2), streams=["work_packages"], clock=TickingClock())

    assert result.error is None
    lines = [PROGRESS.search(r.getMessage()) for r in caplog.records]
    matches = [m for m in lines if m]
    assert matches, "progress lines are expected with a 0.2 s interval"
    for match in matches:
        done, total, percent = int(match.group(1)), int(match.group(2)), float(match.group(3))
        assert total == 60 and 0 < done <= 60
        assert abs(percent - 100 * done / total) < 0.1
    counts = [int(m.group(1)) for m in matches]
    assert counts == sorted(counts)


def test_progress_is_throttled(op, caplog):
    caplog.set_level(logging.INFO)
    run_sync(config_for(op, progress_interval=1000), streams=["work_packages"], clock=TickingClock())

    assert not [r for r in caplog.records if r.getMessage().startswith("Progress ")]


def test_summary_per_stream_with_requests_retries_waits_and_skips(make_double, caplog):
    caplog.set_level(logging.INFO)
    op = make_double(admin=False)
    op.add_fault(Fault("status", path=r"^/api/v3/statuses$", status=503, times=2))

    result = run_sync(config_for(op), streams=["work_packages", "statuses", "users"])

    assert result.error is None
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Summary ")]
    assert any(re.fullmatch(r"Summary work_packages: 60 records, 1 requests, 0 failed attempts, 0 waits \(0\.0 s\), [\d.]+ s", s) for s in summary), summary
    statuses = next(s for s in summary if s.startswith("Summary statuses:"))
    assert "6 records, 1 requests, 2 failed attempts, 2 waits" in statuses
    assert any(s.startswith("Summary users: skipped (403") for s in summary)
    metrics = [r.getMessage() for r in caplog.records if r.getMessage().startswith("METRIC")]
    assert any('"metric":"retry_count","value":2' in m for m in metrics)
    assert any('"metric":"circuit_breaker_trip_count","value":0' in m for m in metrics)


def read_metrics(path):
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_prometheus_textfile_after_success_and_after_failure(make_double, tmp_path):
    op = make_double(admin=False)
    path = tmp_path / "textfile" / "tap_openproject.prom"

    ok = run_sync(config_for(op, metrics_path=str(path)), streams=["work_packages", "users"])
    first = read_metrics(path)
    op.add_fault(Fault("status", path=r"^/api/v3/work_packages$", status=500, times=None))
    failed = run_sync(config_for(op, metrics_path=str(path), max_retries=1), streams=["work_packages"])
    second = read_metrics(path)

    assert ok.error is None and failed.error is not None
    assert first["tap_openproject_last_run_success"] == 1
    assert first["tap_openproject_last_run_exit_code"] == 0
    assert first['tap_openproject_records{stream="work_packages"}'] == 60
    assert first['tap_openproject_skipped_stream{stream="users"}'] == 1
    assert second["tap_openproject_last_run_success"] == 0
    assert second["tap_openproject_last_run_exit_code"] == 1
    assert second["tap_openproject_retries"] == 1
    assert second['tap_openproject_failed_attempts{stream="work_packages"}'] == 2
    assert second["tap_openproject_last_success_timestamp_seconds"] == first["tap_openproject_last_success_timestamp_seconds"]
    assert not list(path.parent.glob(".*.tmp")), "written atomically, no temporary file left"
