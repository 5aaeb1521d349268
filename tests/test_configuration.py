"""Configuration is validated before any request: one line naming the setting, exit code 2, no traceback, and
the secret never echoed. Settings also come from the environment."""

from __future__ import annotations

import json

import pytest

from tap_openproject.settings import resolve
from tests.helpers import API_KEY, clean_env, config_for, run_cli, write_config

SECRET = "s3cr3t-token-4f9a8b7c6d5e"

BAD_CONFIGS = [
    ({"api_key": SECRET}, "base_url is missing"),
    ({"base_url": "", "api_key": SECRET}, "base_url is missing"),
    ({"base_url": "ftp://op.example.com", "api_key": SECRET}, "base_url must start with https://"),
    ({"base_url": "op.example.com", "api_key": SECRET}, "base_url must start with https://"),
    ({"base_url": "https://", "api_key": SECRET}, "base_url has no host"),
    ({"base_url": "http://op.example.com", "api_key": SECRET}, "plain http for a non-loopback host"),
    ({"base_url": f"https://apikey:{SECRET}@op.example.com", "api_key": SECRET}, "must not contain credentials"),
    ({"base_url": "https://op.example.com/?x=1", "api_key": SECRET}, "must not contain a query"),
    ({"base_url": "https://op.example.com/#top", "api_key": SECRET}, "must not contain a query"),
    ({"base_url": "https://op.example.com/a/../b", "api_key": SECRET}, "'..' path segments"),
    ({"base_url": "https://op.example.com:99999", "api_key": SECRET}, "not a valid URL"),
    ({"base_url": "https://op.example.com"}, "api_key is missing"),
    ({"base_url": "https://op.example.com", "api_key": ""}, "api_key is missing"),
    ({"base_url": "https://op.example.com", "api_key": f" {SECRET}\n"}, "leading or trailing whitespace"),
    ({"base_url": "https://op.example.com", "api_key": 12345}, "api_key is missing"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "page_size": 0}, "page_size must be at least 1"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "page_size": "many"}, "page_size must be a whole"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "timeout": 0}, "timeout must be greater than 0"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "timeout": -5}, "timeout must be greater than 0"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "max_retries": -1}, "max_retries must be at least 0"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "max_retry_wait": "x"}, "max_retry_wait must be a"),
    (
        {"base_url": "https://op.example.com", "api_key": SECRET, "circuit_breaker_threshold": 0},
        "circuit_breaker_threshold must be at least 1",
    ),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "start_date": "yesterday"}, "start_date must be"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "project_ids": ["alpha"]}, "project_ids must"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "project_ids": []}, "project_ids must"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "allow_insecure_http": "maybe"}, "allow_insecure_http"),
    ({"base_url": "https://op.example.com", "api_key": SECRET, "log_format": "xml"}, "log_format must be"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_configuration_exits_2_with_one_line_and_no_secret(tmp_path, config, message):
    path = write_config(tmp_path, config)

    result = run_cli(["--config", str(path)])

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr and SECRET not in result.stdout
    assert result.stdout == ""


@pytest.mark.parametrize("argument", ["--discover", "--test"])
def test_discovery_and_test_mode_validate_too(tmp_path, argument):
    path = write_config(tmp_path, {"base_url": "http://op.example.com", "api_key": SECRET})

    result = run_cli(["--config", str(path), argument])

    assert result.returncode == 2
    assert "plain http" in result.stderr


def test_unreadable_or_invalid_config_files_exit_2(tmp_path):
    missing = run_cli(["--config", str(tmp_path / "nope.json")])
    (tmp_path / "bad.json").write_text("{not json")
    invalid = run_cli(["--config", str(tmp_path / "bad.json")])

    assert (missing.returncode, invalid.returncode) == (2, 2)
    assert "cannot read config file" in missing.stderr
    assert "is not valid JSON" in invalid.stderr


def test_base_url_is_normalised():
    for given in ("https://op.example.com/api/v3", "https://OP.example.com/", "https://op.example.com/api/v3/"):
        assert resolve({"base_url": given, "api_key": "k" * 8}, {})["base_url"] == "https://op.example.com"
    sub = resolve({"base_url": "https://example.com/openproject/api/v3", "api_key": "k" * 8}, {})
    assert sub["base_url"] == "https://example.com/openproject"


def test_plain_http_is_accepted_for_loopback_and_with_explicit_opt_in(caplog):
    for host in ("127.0.0.1:8080", "localhost", "[::1]:9000", "127.5.6.7"):
        resolve({"base_url": f"http://{host}", "api_key": "k" * 8}, {})
    resolve({"base_url": "http://op.internal", "api_key": "k" * 8, "allow_insecure_http": True}, {})
    assert "allow_insecure_http is set" in caplog.text


def test_environment_fills_what_the_config_file_lacks(op, tmp_path):
    path = write_config(tmp_path, {"base_url": op.url})
    env = clean_env(OPENPROJECT_API_KEY=API_KEY)

    result = run_cli(["--config", str(path), "--discover"], env=env)

    assert result.returncode == 0, result.stderr


def test_tap_prefixed_environment_variables_fill_settings(op):
    env = clean_env(TAP_OPENPROJECT_BASE_URL=op.url, TAP_OPENPROJECT_API_KEY=API_KEY, TAP_OPENPROJECT_PAGE_SIZE="5")
    config = resolve({}, env)

    assert config["base_url"] == op.url and config["api_key"] == API_KEY and config["page_size"] == 5


def test_config_file_wins_over_environment():
    config = resolve({"base_url": "https://a.example.com", "api_key": "from-file"}, {"OPENPROJECT_API_KEY": "from-env"})

    assert config["api_key"] == "from-file"


def test_unknown_settings_produce_a_warning(caplog):
    resolve({"base_url": "https://op.example.com", "api_key": "k" * 8, "pagesize": 10}, {})

    assert "Ignoring unknown settings: pagesize" in caplog.text


def test_world_readable_config_file_with_api_key_is_warned_about(op, tmp_path):
    path = write_config(tmp_path, config_for(op))
    path.chmod(0o644)

    result = run_cli(["--config", str(path), "--discover"])

    assert result.returncode == 0
    assert f"Config file {path} holds api_key and is readable by group or others (mode 0o644)" in result.stderr
    path.chmod(0o600)
    quiet = run_cli(["--config", str(path), "--discover"])
    assert "readable by group or others" not in quiet.stderr


def test_about_lists_every_setting_with_api_key_secret():
    result = run_cli(["--about", "--format", "json"])

    properties = json.loads(result.stdout)["settings"]["properties"]
    assert properties["api_key"].get("secret") is True
    assert {"timeout", "max_retries", "max_retry_wait", "circuit_breaker_threshold", "log_format"} <= set(properties)
