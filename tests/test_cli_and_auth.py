"""The real command: start-up probe, exit codes, one-line errors, discovery and standalone use."""

from __future__ import annotations

import json

from tests.helpers import API_KEY, clean_env, config_for, parse_messages, run_cli, write_config


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def test_wrong_key_stops_before_any_stream_with_exit_3(op, tmp_path):
    config = write_config(tmp_path, {**config_for(op), "api_key": "wrong-key-123456"})

    result = run_cli(["--config", str(config)])

    assert result.returncode == 3
    assert "rejected the API key" in result.stderr
    assert "Traceback" not in result.stderr
    assert [r.path for r in op.requests] == ["/api/v3/users/me"]
    assert "wrong-key-123456" not in result.stderr + result.stdout


def test_anonymous_answer_is_an_authentication_failure(make_double, tmp_path):
    op = make_double(login_required=False)
    config = write_config(tmp_path, {**config_for(op), "api_key": "not-a-valid-key-42"})

    result = run_cli(["--config", str(config)])

    assert result.returncode == 3
    assert "anonymous user" in result.stderr
    assert [r.path for r in op.requests] == ["/api/v3/users/me"]
    assert not [m for m in parse_messages(result.stdout) if m["type"] == "RECORD"]


def test_discover_then_sync_with_catalog_and_state(op, tmp_path):
    config = write_config(tmp_path, config_for(op))
    discovered = run_cli(["--config", str(config), "--discover"])
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert {"work_packages", "activities", "users", "principals", "categories"} <= names
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in ("work_packages", "statuses")
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = selected
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))

    first = run_cli(["--config", str(config), "--catalog", str(catalog_path)])
    assert first.returncode == 0, first.stderr
    messages = parse_messages(first.stdout)
    streams = {m["stream"] for m in messages if m["type"] == "RECORD"}
    assert streams == {"work_packages", "statuses"}
    assert messages[-1]["type"] == "STATE", "the README tells standalone users to take the last line as state"
    state = messages[-1]["value"]
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state))

    second = run_cli(["--config", str(config), "--catalog", str(catalog_path), "--state", str(state_path)])
    assert second.returncode == 0, second.stderr
    second_wps = [m for m in parse_messages(second.stdout) if m["type"] == "RECORD" and m["stream"] == "work_packages"]
    assert second_wps == []


def test_config_from_environment_alone(op):
    env = clean_env(OPENPROJECT_BASE_URL=op.url, OPENPROJECT_API_KEY=API_KEY)

    result = run_cli(["--config", "ENV", "--discover"], env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["streams"]


def test_python_dash_m_and_about_work(op):
    result = run_cli(["--about", "--format", "json"])

    assert result.returncode == 0
    about = json.loads(result.stdout)
    assert about["name"] == "tap-openproject"
    assert "api_key" in about["settings"]["properties"]
