"""What a valid configuration is: the settings schema, environment aliases, URL and secret policy.

`resolve()` is the one place that turns raw input (config files merged by the SDK, plus the environment) into a
validated, normalised configuration. It runs before any request and raises `ConfigError` with a one-line
message that names the setting and what to do, and never echoes a value.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import re
import stat
import typing as t
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG

from tap_openproject.errors import ConfigError

logger = logging.getLogger("tap-openproject")

API_PREFIX = "/api/v3"
ENV_PREFIX = "TAP_OPENPROJECT_"
#: Short aliases people already use for OpenProject credentials.
ENV_ALIASES = {"OPENPROJECT_API_KEY": "api_key", "OPENPROJECT_BASE_URL": "base_url"}

DEFAULTS: dict[str, t.Any] = {
    "page_size": 1000,
    "timeout": 30,
    "max_retries": 5,
    "max_retry_wait": 300,
    "circuit_breaker_threshold": 5,
    "allow_insecure_http": False,
    "fail_on_unavailable_streams": False,
    "detect_deletions": False,
    "log_format": "text",
    "max_concurrency": 8,
    "progress_interval": 5,
}

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        title="Base URL",
        description="OpenProject instance URL, with or without a trailing /api/v3. Must be https "
        "(plain http only for loopback hosts or with allow_insecure_http).",
        examples=["https://openproject.example.com"],
    ),
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        title="API key",
        description="API token of the OpenProject user the tap reads as (My account > Access tokens). "
        "Sent as HTTP Basic apikey:<token>.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="ISO 8601 date or date-time; incremental streams only fetch records updated at or after it "
        "(sent to the server as an updatedAt filter).",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=DEFAULTS["page_size"],
        title="Page size",
        description="Elements requested per page. The server silently caps it (apiv3_max_page_size, 1000 by "
        "default); the tap reads back the size the server used.",
    ),
    th.Property(
        "project_ids",
        th.ArrayType(th.IntegerType),
        title="Project IDs",
        description="Only extract these projects. Every project-scoped stream is restricted on the server side: a "
        "project filter, per-project routes (versions), or only the scoped parents' children.",
    ),
    th.Property(
        "project_identifiers",
        th.ArrayType(th.StringType),
        title="Project identifiers",
        description="Only extract these projects, named by identifier (the name in the project's URL). Resolved "
        "to ids through the API at start-up and merged with project_ids; an unknown identifier stops the run.",
    ),
    th.Property(
        "detect_deletions",
        th.BooleanType,
        default=DEFAULTS["detect_deletions"],
        title="Detect deletions",
        description="With work_packages: also sweep the ids of all work packages and emit a record "
        "{id, _sdc_deleted_at} for each one deleted since the last run (the first run sets the baseline).",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User agent",
        description="User-Agent header sent with every request (default: tap-openproject/<version>).",
    ),
    th.Property(
        "timeout",
        th.NumberType,
        default=DEFAULTS["timeout"],
        title="Timeout",
        description="Connect and read timeout in seconds for every request.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULTS["max_retries"],
        title="Max retries",
        description="Retries after a failed attempt (connection error, timeout, 429, 5xx, undecodable body).",
    ),
    th.Property(
        "max_retry_wait",
        th.NumberType,
        default=DEFAULTS["max_retry_wait"],
        title="Max retry wait",
        description="Longest single wait in seconds, also when the server asks for more with Retry-After or "
        "RateLimit-Reset; a longer request fails the run.",
    ),
    th.Property(
        "circuit_breaker_threshold",
        th.IntegerType,
        default=DEFAULTS["circuit_breaker_threshold"],
        title="Circuit breaker threshold",
        description="Consecutive failed attempts, across all requests, after which the run stops: the server "
        "is treated as unavailable.",
    ),
    th.Property(
        "allow_insecure_http",
        th.BooleanType,
        default=DEFAULTS["allow_insecure_http"],
        title="Allow insecure HTTP",
        description="Allow a plain http base_url for a non-loopback host (the token then travels unencrypted).",
    ),
    th.Property(
        "fail_on_unavailable_streams",
        th.BooleanType,
        default=DEFAULTS["fail_on_unavailable_streams"],
        title="Fail on unavailable streams",
        description="Fail the run when a selected stream's collection is missing (404) or forbidden (403) "
        "instead of skipping it with a warning.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=8,
        title="Max concurrency",
        description="Requests in flight at once (page fetches, time windows, child collections); 1 makes the tap "
        "fully sequential. Output order and state do not depend on it.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType,
        title="Max requests per second",
        description="Optional politeness limit across all concurrent requests.",
    ),
    th.Property(
        "progress_interval",
        th.NumberType,
        default=5,
        title="Progress interval",
        description="Seconds between progress lines (records so far of the total, percentage, rate, ETA) on "
        "stderr; 0 turns them off.",
    ),
    th.Property(
        "metrics_path",
        th.StringType,
        title="Metrics path",
        description="Write a Prometheus textfile here at the end of every run (for node-exporter's textfile "
        "collector): last run time, success, exit code, duration, records, requests, retries, skipped streams.",
    ),
    th.Property(
        "log_format",
        th.StringType,
        default=DEFAULTS["log_format"],
        allowed_values=["text", "json"],
        title="Log format",
        description="text (human-readable) or json (one JSON object per line on stderr).",
    ),
).to_dict()

# The SDK's switch for ACTIVATE_VERSION (it does not add it to the schema itself), described as this tap uses it.
CONFIG_SCHEMA["properties"]["emit_activate_version_messages"] = {
    **EMIT_ACTIVATE_VERSION_CONFIG["properties"]["emit_activate_version_messages"],
    "description": "Emit ACTIVATE_VERSION for full-table streams, so a target can retire rows the source no "
    "longer has. Never for categories, activities and attachments: a run reads them only for the parents it "
    "delivers.",
}
SETTING_NAMES = frozenset(CONFIG_SCHEMA["properties"])
#: Settings the SDK adds to every tap (stream maps, flattening, batching ...): known, not ours to validate.
SDK_SETTING_NAMES = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
        "emit_activate_version_messages",
    }
)


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

    config["base_url"] = _base_url(config)
    config["api_key"] = _api_key(config.get("api_key"))
    if config.get("start_date") is not None:
        config["start_date"] = _start_date(config["start_date"])
    config["page_size"] = _number(config, "page_size", int, minimum=1)
    config["timeout"] = _number(config, "timeout", float, minimum=0, exclusive=True)
    config["max_retries"] = _number(config, "max_retries", int, minimum=0)
    config["max_retry_wait"] = _number(config, "max_retry_wait", float, minimum=0)
    config["circuit_breaker_threshold"] = _number(config, "circuit_breaker_threshold", int, minimum=1)
    config["max_concurrency"] = _number(config, "max_concurrency", int, minimum=1)
    config["progress_interval"] = _number(config, "progress_interval", float, minimum=0)
    if config.get("metrics_path") is not None and (
        not isinstance(config["metrics_path"], str) or not config["metrics_path"].strip()
    ):
        raise ConfigError("metrics_path must be a file path, e.g. /var/lib/node_exporter/tap_openproject.prom")
    if config.get("max_requests_per_second") is not None:
        config["max_requests_per_second"] = _number(
            config, "max_requests_per_second", float, minimum=0, exclusive=True
        )
    config["allow_insecure_http"] = _boolean(config, "allow_insecure_http")
    config["fail_on_unavailable_streams"] = _boolean(config, "fail_on_unavailable_streams")
    if config.get("project_ids") is not None:
        config["project_ids"] = _project_ids(config["project_ids"])
    if config.get("project_identifiers") is not None:
        config["project_identifiers"] = _project_identifiers(config["project_identifiers"])
    config["detect_deletions"] = _boolean(config, "detect_deletions")
    if config.get("emit_activate_version_messages") is not None:
        config["emit_activate_version_messages"] = _boolean(config, "emit_activate_version_messages")
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
    )


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(config: Mapping[str, t.Any]) -> str:
    value = config.get("base_url")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            "base_url is missing: set it to your OpenProject URL, e.g. https://openproject.example.com "
            "(config file, TAP_OPENPROJECT_BASE_URL or OPENPROJECT_BASE_URL)"
        )
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ConfigError("base_url is not a valid URL: use https://host[:port][/path]") from None
    if parts.scheme not in ("https", "http"):
        raise ConfigError("base_url must start with https:// (http:// only for loopback hosts)")
    host = parts.hostname or ""
    if not host:
        raise ConfigError("base_url has no host: use https://host[:port][/path]")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("base_url must not contain credentials (user:password@): put the token in api_key")
    if parts.query or parts.fragment or value.strip().endswith(("?", "#")):
        raise ConfigError("base_url must not contain a query (?...) or fragment (#...): give the instance URL only")
    segments = [s for s in parts.path.split("/") if s]
    if any(s in ("..", ".") for s in segments):
        raise ConfigError("base_url must not contain '.' or '..' path segments: give the instance URL only")
    if parts.scheme == "http" and not is_loopback_host(host):
        if not _boolean(config, "allow_insecure_http"):
            raise ConfigError(
                "base_url uses plain http for a non-loopback host, which would send the API key unencrypted: "
                "use https, or set allow_insecure_http: true if you accept the risk"
            )
        logger.warning(
            "allow_insecure_http is set: the API key travels unencrypted to %s; use https in production", host
        )
    path = "/".join(segments)
    if path == API_PREFIX.strip("/") or path.endswith("/" + API_PREFIX.strip("/")):
        path = path[: -len(API_PREFIX.strip("/"))].rstrip("/")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc.lower(), "/" + path if path else "", "", "")).rstrip("/")


def _api_key(value: t.Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "api_key is missing: create an API token in OpenProject (My account > Access tokens) and set "
            "api_key, TAP_OPENPROJECT_API_KEY or OPENPROJECT_API_KEY"
        )
    if value != value.strip():
        raise ConfigError("api_key has leading or trailing whitespace: remove it (check how the secret is stored)")
    if not value.strip():
        raise ConfigError("api_key is blank: set it to your OpenProject API token")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ConfigError("api_key contains whitespace or control characters: paste the token exactly")
    return value


def parse_datetime(value: str) -> dt.datetime:
    """Parse ISO 8601 (date or date-time, 'Z' or offset, optional fraction) into an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def format_datetime(value: dt.datetime) -> str:
    """Fixed-width UTC with milliseconds, e.g. 2024-03-01T10:00:00.000Z (sorts as text as it sorts in time)."""
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _start_date(value: t.Any) -> str:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, str):
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            pass
    raise ConfigError("start_date must be an ISO 8601 date or date-time, e.g. 2024-01-01 or 2024-01-01T00:00:00Z")


def _number(
    config: Mapping[str, t.Any],
    name: str,
    kind: type[int] | type[float],
    *,
    minimum: float,
    exclusive: bool = False,
) -> t.Any:
    value = config.get(name)
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        article = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {article}; see the configuration table in the README")
    value = kind(value)
    if value < minimum or (exclusive and value == minimum):
        bound = f"greater than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise ConfigError(f"{name} must be {bound}")
    return value


def _boolean(config: Mapping[str, t.Any], name: str) -> bool:
    value = config.get(name, DEFAULTS.get(name, False))
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ConfigError(f"{name} must be true or false")


def _project_ids(value: t.Any) -> list[int]:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
        except ValueError:
            value = None
    if not isinstance(value, list) or not value:
        raise ConfigError("project_ids must be a non-empty list of project ids, e.g. [1, 2]")
    ids = []
    for item in value:
        try:
            number = int(item) if not isinstance(item, bool) else -1
        except (TypeError, ValueError):
            number = -1
        if number < 1 or (isinstance(item, float) and item != number):
            raise ConfigError("project_ids must contain positive whole numbers (project ids, not identifiers)")
        ids.append(number)
    return sorted(set(ids))


#: What OpenProject accepts as a project identifier (lower-case letters, digits, dashes, underscores).
_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def _project_identifiers(value: t.Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        except ValueError:
            value = None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError('project_identifiers must be a non-empty list of identifiers, e.g. ["my-project"]')
    for identifier in value:
        if not _IDENTIFIER.match(identifier):
            raise ConfigError(
                f"project_identifiers: {identifier!r} is not a project identifier (lower-case letters, digits, "
                "'-' and '_', as in the project's URL)"
            )
    return sorted(set(value))


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
