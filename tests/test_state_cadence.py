"""STATE as the run goes: after every page's worth of records and at the latest `state_interval_seconds` after a
record, never covering a record not yet written, and not once per parent record for child streams. A run killed
with SIGKILL (no chance to write a last state) resumes from its last STATE line: nothing lost, at most one page
delivered twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO, FakeClock, catalog_for, clean_env, config_for, run_sync, write_config

PAGE = 20


def segments(messages, stream="work_packages"):
    """For each STATE message: (records of `stream` written since the previous STATE, the newest updatedAt
    written so far, the STATE's bookmark of `stream`)."""
    out, since, newest = [], 0, None
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] == stream:
            since += 1
            newest = max(newest or "", message["record"]["updatedAt"])
        elif message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            out.append((since, newest, bookmark))
            since = 0
    return out


@pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "concurrent"])
def test_state_after_every_page_covers_only_written_records(make_double, concurrency):
    op = make_double(work_packages=200)

    result = run_sync(
        config_for(op, page_size=PAGE, max_concurrency=concurrency, state_interval_seconds=0), streams=["work_packages"]
    )

    assert result.error is None
    assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")
    states = segments(result.messages)
    assert len(states) >= 200 // PAGE
    for records, newest, bookmark in states:
        assert records <= PAGE, f"{records} records without a STATE"
        assert bookmark is None or (newest is not None and bookmark <= newest), "a bookmark past what was written"
    assert states[-1][2] == max(r["updatedAt"] for r in result.records["work_packages"])


def test_child_streams_do_not_write_state_once_per_parent(make_double):
    op = make_double(work_packages=100)

    result = run_sync(config_for(op, page_size=PAGE, state_interval_seconds=0), streams=["work_packages", "activities"])

    assert result.error is None
    written = sum(len(records) for records in result.records.values())
    assert len(result.ids("work_packages")) == 100 and len(result.ids("activities")) > 100
    # One STATE per page's worth of records (parents and children), plus the stream's and the run's end: not one
    # per work package.
    assert len(result.states) <= written // PAGE + 3, len(result.states)
    assert result.messages[-1]["type"] == "STATE"
    assert result.final_state["bookmarks"]["work_packages"]["replication_key_value"] == max(
        r["updatedAt"] for r in result.records["work_packages"]
    )


class TickingClock(FakeClock):
    """Monotonic time that moves 10 ms per reading, so intervals pass without sleeping."""

    def monotonic(self) -> float:
        self.time += 0.01
        return self.time


def test_state_is_written_at_the_latest_state_interval_seconds_after_a_record(op):
    frequent = run_sync(config_for(op, state_interval_seconds=0.05), streams=["work_packages"], clock=TickingClock())
    only_pages = run_sync(config_for(op, state_interval_seconds=0), streams=["work_packages"], clock=TickingClock())

    # 60 work packages, one page of 1000: without the time rule, one STATE at the stream's end.
    assert len(segments(only_pages.messages)) == 1
    states = segments(frequent.messages)
    assert len(states) > 5
    assert sum(records for records, _, _ in states) == 60
    for records, newest, bookmark in states:
        assert 0 < records < 60 or records == 0
        assert bookmark is None or bookmark <= newest


def test_a_run_killed_with_sigkill_resumes_from_its_last_state_without_loss(make_double, tmp_path):
    op = make_double(work_packages=400, latency_ms=25)
    config = config_for(op, page_size=PAGE)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, ["work_packages"])), encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tap_openproject", "--config", str(write_config(tmp_path, config)), "--catalog",
         str(catalog)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
        cwd=REPO,
    )
    assert process.stdout is not None
    lines, records = [], 0
    deadline = time.monotonic() + 60
    while records < 150 and time.monotonic() < deadline:  # mid-stream: well into the 400 work packages
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        records += b'"type":"RECORD","stream":"work_packages"' in line
    process.send_signal(signal.SIGKILL)
    rest = process.stdout.read()  # through the same buffered reader (communicate() would skip what it holds)
    process.wait(timeout=30)
    whole = [json.loads(line) for line in (b"".join(lines) + rest).split(b"\n")[:-1]]  # a torn last line is no line
    delivered = [m["record"]["id"] for m in whole if m["type"] == "RECORD" and m["stream"] == "work_packages"]
    states = [i for i, m in enumerate(whole) if m["type"] == "STATE"]
    assert process.returncode == -signal.SIGKILL
    assert 150 <= len(delivered) < 400, "killed mid-stream"
    assert states, "no STATE before the kill: the next run would start over"
    last_state = whole[states[-1]]["value"]

    resumed = run_sync(config, streams=["work_packages"], state=last_state)

    assert resumed.error is None
    again = resumed.ids("work_packages")
    assert set(delivered) | set(again) == set(op.store.ids("work_packages")), "nothing lost"
    assert len(again) == len(set(again))
    duplicates = set(delivered) & set(again)
    after_last_state = {m["record"]["id"] for m in whole[states[-1] :] if m["type"] == "RECORD"}
    assert duplicates <= after_last_state, "only records the last STATE did not cover come again"
    assert len(duplicates) <= PAGE, f"{len(duplicates)} delivered twice"
