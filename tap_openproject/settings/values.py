"""One checker per kind of setting value: each returns the normalised value or raises `ConfigError` with one line
that names the setting and what to do, and never echoes a value (it may be a secret)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from tap_openproject.errors import ConfigError
from tap_openproject.settings.schema import API_PREFIX, DEFAULTS
from tap_openproject.timeutil import format_datetime, parse_datetime

logger = logging.getLogger("tap-openproject")


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(config: Mapping[str, t.Any]) -> str:
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
        if not check_boolean(config, "allow_insecure_http"):
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


def check_api_key(value: t.Any) -> str:
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


def check_start_date(value: t.Any) -> str:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, str):
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            pass
    raise ConfigError("start_date must be an ISO 8601 date or date-time, e.g. 2024-01-01 or 2024-01-01T00:00:00Z")


def check_number(
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


def check_boolean(config: Mapping[str, t.Any], name: str) -> bool:
    value = config.get(name, DEFAULTS.get(name, False))
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ConfigError(f"{name} must be true or false")


def check_project_ids(value: t.Any) -> list[int]:
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


def check_project_identifiers(value: t.Any) -> list[str]:
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
