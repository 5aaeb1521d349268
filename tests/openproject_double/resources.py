"""Small helpers that shape values the way OpenProject API v3 renders them."""

from __future__ import annotations

import functools
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
API = "/api/v3"
UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"
#: The precision at which datetime filters compare: "s" (whole seconds, as OpenProject's API does) or "ms"
#: (milliseconds, as a server comparing the stored values would). The server sets it for each request from
#: ``OpenProjectDouble.filter_precision``.
FILTER_PRECISION: ContextVar[str] = ContextVar("filter_precision", default="s")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def iso_datetime(value: datetime) -> str:
    """Render a datetime as OpenProject does: UTC, 'Z', milliseconds only when non-zero."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        return f"{text}.{value.microsecond // 1000:03d}Z"
    return text + "Z"


@functools.lru_cache(maxsize=262_144)
def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime (with or without milliseconds / 'Z') into aware UTC.

    A bare date means the start of that day. Raises ValueError on garbage.
    """
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_seconds(value: datetime) -> float:
    """Seconds since the epoch at the precision the double compares timestamps (``FILTER_PRECISION``): whole
    seconds, or with the millisecond fraction (exact: counted in whole milliseconds, then divided)."""
    if FILTER_PRECISION.get() == "ms":
        return ((value - _EPOCH) // _MILLISECOND) / 1000
    return int(value.timestamp() // 1)


def end_of_day(day: datetime) -> float:
    """The last instant of the day starting at ``day`` that the filters can tell apart (23:59:59, or .999)."""
    resolution = _MILLISECOND if FILTER_PRECISION.get() == "ms" else timedelta(seconds=1)
    return epoch_seconds(day + timedelta(days=1) - resolution)


def href(collection: str, ident: int | str) -> str:
    """The API path of one resource."""
    return f"{API}/{collection}/{ident}"


def link(collection: str, ident: int | str | None, title: str | None = None) -> dict[str, Any]:
    """A HAL resource link; an unset value is a link with ``href: null``."""
    if ident is None:
        return {"href": None}
    out: dict[str, Any] = {"href": href(collection, ident)}
    if title is not None:
        out["title"] = title
    return out


def action(path: str, method: str) -> dict[str, Any]:
    """A HAL action link (a permission, not data)."""
    return {"href": path, "method": method}


def formattable(raw: str | None) -> dict[str, Any]:
    """A Formattable text object (markdown source plus rendered HTML)."""
    if raw is None:
        return {"format": "markdown", "raw": None, "html": ""}
    return {"format": "markdown", "raw": raw, "html": f'<p class="op-uc-p">{raw}</p>' if raw else ""}


def duration_hours(hours: float) -> str:
    """ISO 8601 duration for an amount of hours, e.g. 1.5 -> 'PT1H30M'."""
    total_minutes = round(hours * 60)
    h, m = divmod(total_minutes, 60)
    if h and m:
        return f"PT{h}H{m}M"
    if m:
        return f"PT{m}M"
    return f"PT{h}H"


def id_from_href(value: Any) -> int | None:
    """The id at the end of a link's href, or None for unset/undisclosed/non-numeric links."""
    if not isinstance(value, dict):
        return None
    target = value.get("href")
    if not target or not isinstance(target, str):
        return None
    tail = target.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def day_start(value: datetime) -> datetime:
    """Midnight UTC of the day containing ``value``."""
    value = value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


ONE_DAY = timedelta(days=1)
