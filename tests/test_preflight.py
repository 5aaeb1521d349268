"""`tap-openproject-preflight`: a table of checks, a verdict, and the exit codes of a sync."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from tests.helpers import API_KEY, REPO, clean_env, config_for, write_config
from tests.openproject_double import Fault


def preflight(config_path):
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_openproject.preflight", "--config", str(config_path)],
        capture_output=True, text=True, env=clean_env(), cwd=REPO, timeout=120, check=False,
    )


def rows(stdout):
    table = {}
    for line in stdout.splitlines()[1:]:
        if not line.strip() or line.startswith("Verdict"):
            continue
        check, status, detail = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        table[check] = (status, detail)
    return table


def test_ready_instance_with_admin_token(op, tmp_path):
    result = preflight(write_config(tmp_path, config_for(op)))

    table = rows(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table["credentials"][0] == "OK" and "admin" in table["credentials"][1]
    assert table["server version"] == ("OK", "OpenProject 15.4.0")
    assert table["maximum page size"] == ("OK", "1000 (page_size 1000)")
    assert table["stream work_packages"] == ("OK", "60 records")
    assert table["URL and TLS"][0] == "WARN", "plain http, even on loopback, is reported"
    assert "Verdict: READY WITH WARNINGS" in result.stdout


def test_forbidden_and_missing_streams_and_a_page_size_cap_are_warnings(make_double, tmp_path):
    op = make_double(admin=False, max_page_size=100, missing_collections=("/api/v3/meetings",))

    result = preflight(write_config(tmp_path, config_for(op)))

    table = rows(result.stdout)
    assert result.returncode == 0
    assert table["stream users"][0] == "WARN" and "forbidden" in table["stream users"][1]
    assert table["stream meetings"][0] == "WARN" and "not on this server" in table["stream meetings"][1]
    assert table["maximum page size"] == ("WARN", "100 (page_size 1000 will be capped to it)")
    assert table["server version"][0] == "WARN"


def test_rejected_key_is_not_ready_with_exit_3(op, tmp_path):
    result = preflight(write_config(tmp_path, {**config_for(op), "api_key": "wrong-key-0000"}))

    assert result.returncode == 3
    assert rows(result.stdout)["credentials"][0] == "FAIL"
    assert "Verdict: NOT READY" in result.stdout
    assert "wrong-key-0000" not in result.stdout + result.stderr


def test_bad_configuration_exits_2(tmp_path):
    result = preflight(write_config(tmp_path, {"base_url": "ftp://x", "api_key": API_KEY}))

    assert result.returncode == 2
    assert rows(result.stdout)["configuration"][0] == "FAIL"


def test_unreachable_server_exits_1(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    result = preflight(write_config(tmp_path, {"base_url": f"http://127.0.0.1:{port}", "api_key": API_KEY, "max_retries": 0}))

    assert result.returncode == 1
    assert rows(result.stdout)["server"][0] == "FAIL"
    assert "connection refused" in result.stdout


def test_a_failing_stream_row_makes_preflight_exit_1(op, tmp_path):
    """Break: preflight.main not turning a FAIL row into exit 1 (the verdict alone says NOT READY)."""
    op.add_fault(Fault("status", path=r"^/api/v3/news$", status=400, times=None))

    result = preflight(write_config(tmp_path, config_for(op)))

    table = rows(result.stdout)
    assert table["stream news"][0] == "FAIL" and "400" in table["stream news"][1]
    assert table["credentials"][0] == "OK"
    assert "Verdict: NOT READY" in result.stdout
    assert result.returncode == 1


def test_streams_without_a_collection_of_their_own_are_not_probed(op, tmp_path):
    result = preflight(write_config(tmp_path, config_for(op)))

    table = rows(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table["stream sprints"] == ("OK", f"{len(op.store.ids('sprints'))} records")
    assert table["stream labels"] == ("OK", f"{len(op.store.ids('labels'))} records")
    # budgets exist per project, time entry activities only by id: a probe of a template path would warn falsely
    assert "stream budgets" not in table and "stream time_entry_activities" not in table
    assert not [check for check, (status, _) in table.items() if check.startswith("stream ") and status != "OK"]
