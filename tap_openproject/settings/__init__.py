"""What a valid configuration is: the settings schema, environment aliases, URL and secret policy.

`resolve()` is the one place that turns raw input (config files merged by the SDK, plus the environment) into a
validated, normalised configuration. It runs before any request and raises `ConfigError` with a one-line
message that names the setting and what to do, and never echoes a value.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import typing as t
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tap_openproject.errors import ConfigError
from tap_openproject.settings.schema import (
    API_PREFIX,
    CONFIG_SCHEMA,
    DEFAULTS,
    ENV_ALIASES,
    ENV_PREFIX,
    PACKAGE_NAME,
    SDK_SETTING_NAMES,
    SETTING_NAMES,
)
from tap_openproject.settings.values import (
    check_api_key,
    check_base_url,
    check_boolean,
    check_number,
    check_project_identifiers,
    check_project_ids,
    check_start_date,
    is_loopback_host,
)

logger = logging.getLogger("tap-openproject")


class Settings(t.NamedTuple):
    """The validated values the tap's mechanics read (the raw dict stays the SDK's config)."""

    api_root: str
    api_key: str
    page_size: int
    timeout: float
    max_retries: int
    max_retry_wait: float
    circuit_breaker_threshold: int
    project_ids: tuple[int, ...]
    user_agent: str
    fail_on_unavailable_streams: bool
    max_concurrency: int = 8
    max_requests_per_second: float | None = None
    detect_deletions: bool = False
    #: Seconds before the bookmark that incremental streams read again (late commits), see bookmarks.py.
    lookback_seconds: float = 300.0
    #: Longest time a written record waits for a STATE message covering it.
    state_interval_seconds: float = 5.0
    #: Project identifiers still to resolve to ids (the tap merges them into project_ids at start-up).
    project_identifiers: tuple[str, ...] = ()


def prefixed_env_config(environ: Mapping[str, str]) -> dict[str, t.Any]:
    """Settings given as TAP_OPENPROJECT_<SETTING> variables (what the SDK's `--config ENV` reads)."""
    return {name: value for name in SETTING_NAMES if (value := environ.get(ENV_PREFIX + name.upper()))}


def env_config(environ: Mapping[str, str]) -> dict[str, t.Any]:
    """Settings found in the environment: TAP_OPENPROJECT_<SETTING>, then the OPENPROJECT_* aliases."""
    aliases = {name: environ[alias] for alias, name in ENV_ALIASES.items() if environ.get(alias)}
    return {**aliases, **prefixed_env_config(environ)}


def read_config_file(path: str | os.PathLike[str]) -> dict[str, t.Any]:
    """One config file: it must exist and hold one JSON object (a one-line ConfigError otherwise)."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or type(exc).__name__}") from None
    except ValueError as exc:
        raise ConfigError(f"config file {path} is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path} must hold a JSON object of settings")
    return content


def read_config(config: Mapping[str, t.Any] | str | os.PathLike[str] | list[t.Any] | None) -> dict[str, t.Any]:
    """Raw settings from what the SDK's `config` argument may be: a dict, one path, or a list of paths (merged in
    order, later files winning)."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    merged: dict[str, t.Any] = {}
    for path in config if isinstance(config, list) else [config]:
        merged.update(read_config_file(path))
    return merged


def resolve(raw: Mapping[str, t.Any], environ: Mapping[str, str] | None = None) -> dict[str, t.Any]:
    """Fill settings from the environment where the config lacks them, validate, and normalise.

    Raises:
        ConfigError: naming the first invalid setting and what to do about it.
    """
    environ = os.environ if environ is None else environ
    config: dict[str, t.Any] = {**env_config(environ), **{k: v for k, v in raw.items() if v is not None}}
    unknown = sorted(set(config) - SETTING_NAMES - SDK_SETTING_NAMES)
    if unknown:
        logger.warning("Ignoring unknown settings: %s (check their spelling)", ", ".join(unknown))
    for name, default in DEFAULTS.items():
        config.setdefault(name, default)

    config["base_url"] = check_base_url(config)
    config["api_key"] = check_api_key(config.get("api_key"))
    if config.get("start_date") is not None:
        config["start_date"] = check_start_date(config["start_date"])
    config["page_size"] = check_number(config, "page_size", int, minimum=1)
    config["timeout"] = check_number(config, "timeout", float, minimum=0, exclusive=True)
    config["max_retries"] = check_number(config, "max_retries", int, minimum=0)
    config["max_retry_wait"] = check_number(config, "max_retry_wait", float, minimum=0)
    config["circuit_breaker_threshold"] = check_number(config, "circuit_breaker_threshold", int, minimum=1)
    config["max_concurrency"] = check_number(config, "max_concurrency", int, minimum=1)
    config["progress_interval"] = check_number(config, "progress_interval", float, minimum=0)
    config["lookback_seconds"] = check_number(config, "lookback_seconds", float, minimum=0)
    config["state_interval_seconds"] = check_number(config, "state_interval_seconds", float, minimum=0)
    if config.get("metrics_path") is not None and (
        not isinstance(config["metrics_path"], str) or not config["metrics_path"].strip()
    ):
        raise ConfigError("metrics_path must be a file path, e.g. /var/lib/node_exporter/tap_openproject.prom")
    if config.get("max_requests_per_second") is not None:
        config["max_requests_per_second"] = check_number(
            config, "max_requests_per_second", float, minimum=0, exclusive=True
        )
    config["allow_insecure_http"] = check_boolean(config, "allow_insecure_http")
    config["fail_on_unavailable_streams"] = check_boolean(config, "fail_on_unavailable_streams")
    if config.get("project_ids") is not None:
        config["project_ids"] = check_project_ids(config["project_ids"])
    if config.get("project_identifiers") is not None:
        config["project_identifiers"] = check_project_identifiers(config["project_identifiers"])
    config["detect_deletions"] = check_boolean(config, "detect_deletions")
    if config.get("emit_activate_version_messages") is not None:
        config["emit_activate_version_messages"] = check_boolean(config, "emit_activate_version_messages")
    if config["log_format"] not in ("text", "json"):
        raise ConfigError("log_format must be 'text' or 'json'")
    if "user_agent" in config and (not isinstance(config["user_agent"], str) or not config["user_agent"].strip()):
        raise ConfigError("user_agent must be a non-empty string; remove it to use the default")
    return config


def settings_of(config: Mapping[str, t.Any], default_user_agent: str) -> Settings:
    """The typed view of a resolved configuration."""
    return Settings(
        api_root=config["base_url"] + API_PREFIX,
        api_key=config["api_key"],
        page_size=config["page_size"],
        timeout=config["timeout"],
        max_retries=config["max_retries"],
        max_retry_wait=config["max_retry_wait"],
        circuit_breaker_threshold=config["circuit_breaker_threshold"],
        project_ids=tuple(config.get("project_ids") or ()),
        user_agent=config.get("user_agent") or default_user_agent,
        fail_on_unavailable_streams=config["fail_on_unavailable_streams"],
        max_concurrency=config["max_concurrency"],
        detect_deletions=config["detect_deletions"],
        project_identifiers=tuple(config.get("project_identifiers") or ()),
        max_requests_per_second=config.get("max_requests_per_second"),
        lookback_seconds=config["lookback_seconds"],
        state_interval_seconds=config["state_interval_seconds"],
    )


def default_user_agent() -> str:
    """tap-openproject/<installed version>."""
    try:
        return f"tap-openproject/{version(PACKAGE_NAME)}"
    except PackageNotFoundError:
        return "tap-openproject/0+unknown"


def warn_if_readable_by_others(path: str | os.PathLike[str]) -> None:
    """Warn when a config file that holds api_key can be read by group or others."""
    try:
        file = Path(path)
        mode = stat.S_IMODE(file.stat().st_mode)
        if not mode & 0o077:
            return
        holds_key = "api_key" in json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return
    if holds_key:
        logger.warning(
            "Config file %s holds api_key and is readable by group or others (mode %s): run chmod 600 %s",
            file,
            oct(mode),
            file,
        )


__all__ = [
    "API_PREFIX",
    "CONFIG_SCHEMA",
    "DEFAULTS",
    "PACKAGE_NAME",
    "Settings",
    "default_user_agent",
    "env_config",
    "is_loopback_host",
    "prefixed_env_config",
    "read_config",
    "read_config_file",
    "resolve",
    "settings_of",
    "warn_if_readable_by_others",
]
