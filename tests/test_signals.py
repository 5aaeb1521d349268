"""SIGTERM / SIGINT mid-run: the last state is written and the exit code says the run was interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO, clean_env, config_for, write_config


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupt_writes_state_and_exits_with_128_plus_signal(make_double, tmp_path, signum, code):
    op = make_double(work_packages=400, latency_ms=40)
    config = write_config(tmp_path, config_for(op, page_size=20))
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tap_openproject", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=REPO,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if '"stream":"work_packages"' in line.replace(" ", "") and '"RECORD"' in line:
            break
    records_seen = sum('"RECORD"' in line for line in lines)
    process.send_signal(signum)
    rest, stderr = process.communicate(timeout=60)
    messages = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]

    assert process.returncode == code, stderr[-2000:]
    assert records_seen >= 1
    assert messages[-1]["type"] == "STATE", [m["type"] + ":" + m.get("stream", "") for m in messages[-5:]]
    assert "Traceback" not in stderr
    assert f"Stopped by signal {int(signum)}" in stderr
    delivered = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "work_packages"]
    bookmark = messages[-1]["value"]["bookmarks"].get("work_packages", {}).get("replication_key_value")
    # The bookmark never passes a record that was not delivered (it may lag by the record being written when
    # the signal came: that one comes again next run, a duplicate, never a gap).
    if bookmark is not None:
        assert delivered and bookmark <= max(r["updatedAt"] for r in delivered)
