"""The API key never appears in logs, errors, tracebacks or Singer output, at any level; logs go to stderr as text
or JSON lines; exit codes are the documented ones."""

from __future__ import annotations

import base64
import json
import logging

from tap_openproject.logs import REDACTED, RedactingFilter
from tests.helpers import API_KEY, clean_env, config_for, parse_messages, run_cli, write_config
from tests.openproject_double import Fault


def leaks(text: str) -> list[str]:
    forms = [API_KEY, base64.b64encode(f"apikey:{API_KEY}".encode()).decode()]
    return [form for form in forms if form in text]


def test_debug_run_never_shows_the_key(op, tmp_path):
    op.add_fault(Fault("status", path=r"^/api/v3/relations$", status=503, times=1))
    config = write_config(tmp_path, config_for(op))
    env = clean_env(TAP_OPENPROJECT_LOGLEVEL="DEBUG", LOGLEVEL="DEBUG")

    result = run_cli(["--config", str(config)], env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr and "urllib3" in result.stderr, "the run must really log at DEBUG"
    assert leaks(result.stderr) == [] and leaks(result.stdout) == []


def test_failing_debug_run_never_shows_the_key(op, tmp_path):
    op.add_fault(Fault("status", path=r"^/api/v3/work_packages$", status=500, times=None))
    config = write_config(tmp_path, config_for(op, max_retries=0))
    env = clean_env(TAP_OPENPROJECT_LOGLEVEL="DEBUG")

    result = run_cli(["--config", str(config)], env=env)

    assert result.returncode == 1
    assert leaks(result.stderr) == [] and leaks(result.stdout) == []


def test_redaction_filter_covers_messages_arguments_and_tracebacks():
    redactor = RedactingFilter()
    redactor.add(API_KEY)
    basic = base64.b64encode(f"apikey:{API_KEY}".encode()).decode()
    try:
        raise ValueError(f"boom {API_KEY}")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "header %s", (f"Basic {basic}",), (type(exc), exc, exc.__traceback__))
    redactor.filter(record)

    assert record.getMessage() == f"header Basic {REDACTED}"
    assert API_KEY not in record.exc_text and REDACTED in record.exc_text


def test_error_messages_carry_identifier_not_whole_bodies(op):
    from tests.helpers import run_sync

    op.add_fault(Fault("status", path=r"^/api/v3/work_packages$", status=400, times=None))
    result = run_sync(config_for(op), streams=["work_packages"])

    message = str(result.error)
    assert "400" in message and len(message) < 400 and "\n" not in message


def test_json_logs_are_one_object_per_line_with_run_id_and_stream(op, tmp_path):
    config = write_config(tmp_path, config_for(op))
    env = clean_env(TAP_OPENPROJECT_LOG_FORMAT="json")

    result = run_cli(["--config", str(config)], env=env)

    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines
    assert all({"time", "level", "logger", "message", "run_id"} <= set(line) for line in lines)
    assert len({line["run_id"] for line in lines}) == 1
    assert any(line.get("stream") == "work_packages" for line in lines)
    assert all(m["type"] in {"SCHEMA", "RECORD", "STATE"} for m in parse_messages(result.stdout))


def test_log_format_setting_in_the_config_file(op, tmp_path):
    config = write_config(tmp_path, config_for(op, log_format="json"))

    result = run_cli(["--config", str(config), "--discover"])

    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["run_id"] for line in lines)


def test_sync_failure_exits_1_with_one_line(op, tmp_path):
    op.add_fault(Fault("status", path=r"^/api/v3/work_packages$", status=500, times=None))
    config = write_config(tmp_path, config_for(op, max_retries=0))

    result = run_cli(["--config", str(config)])

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "GET /api/v3/work_packages failed after 1 attempt: 500" in result.stderr
    assert parse_messages(result.stdout)[-1]["type"] == "STATE"


def test_a_logging_config_from_meltano_is_respected_and_still_redacted(op, tmp_path):
    log_config = tmp_path / "logging.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"marker": {"format": "MELTANO-FORMAT %(levelname)s %(name)s %(message)s"}},
                "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "marker", "stream": "ext://sys.stderr"}},
                "root": {"level": "DEBUG", "handlers": ["console"]},
            }
        )
    )
    op.add_fault(Fault("status", path=r"^/api/v3/statuses$", status=503, times=1))
    config = write_config(tmp_path, config_for(op))

    result = run_cli(["--config", str(config)], env=clean_env(SINGER_SDK_LOG_CONFIG=str(log_config)))

    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("MELTANO-FORMAT") for line in lines)
    assert leaks(result.stderr) == []
