"""Query semantics of OpenProject collections: page parameters, `filters`, `sortBy` and `select`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .resources import UTC, day_start, end_of_day, epoch_seconds, parse_datetime

ERROR_URN = "urn:openproject-org:api:v3:errors:"
DATETIME_OPERATORS = ("<>d", "=d", ">t-", "<t-", "t-", "t", "w")


class ApiError(Exception):
    """An OpenProject error answer: status, errorIdentifier name, message (and embedded errors)."""

    def __init__(self, status: int, name: str, message: str, errors: list[ApiError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message
        self.errors = errors or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        out: dict[str, Any] = {"_type": "Error", "errorIdentifier": ERROR_URN + self.name, "message": self.message}
        if self.errors:
            out["_embedded"] = {"errors": [e.body() for e in self.errors]}
        return out


def invalid_query(message: str) -> ApiError:
    """400 InvalidQuery, the answer to one bad filter or sort."""
    return ApiError(400, "InvalidQuery", message)


# --- paging ----------------------------------------------------------------------------------------------
def parse_page(query: dict[str, str], max_page_size: int, default_page_size: int = 20) -> tuple[int, int]:
    """(offset, pageSize) as OpenProject reads them: 1-based page number, silently capped page size."""
    try:
        offset = int(query.get("offset", "1"))
    except ValueError:
        offset = 1
    offset = max(offset, 1)
    raw = query.get("pageSize")
    try:
        size = int(raw) if raw is not None else default_page_size
    except ValueError:
        size = default_page_size
    if size == -1:
        size = max_page_size
    elif size < 0:
        size = default_page_size
    return offset, min(size, max_page_size)


# --- filters ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterField:
    """A filterable property: ``kind`` is "datetime", "ids" or "status"; ``get`` reads it from an item
    (epoch seconds for datetimes, an int id or None otherwise)."""

    kind: str
    get: Callable[[Any], Any]
    label: str = ""


Predicate = Callable[[Any], bool]


def snake(name: str) -> str:
    """camelCase -> snake_case (OpenProject converts filter and sort names the same way)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    """snake_case -> camelCase."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_filters(raw: str, fields: dict[str, FilterField], now: datetime,
                  open_statuses: frozenset[int] = frozenset()) -> list[Predicate]:
    """Turn a `filters` JSON text into predicates; 400 InvalidQuery for one problem, 422 for several."""
    try:
        spec = json.loads(raw) if raw.strip() else []
    except ValueError:
        raise invalid_query("Filters are not valid JSON.") from None
    if not isinstance(spec, list):
        raise invalid_query("Filters must be a JSON array.")
    predicates: list[Predicate] = []
    problems: list[ApiError] = []
    for entry in spec:
        if not isinstance(entry, dict) or len(entry) != 1:
            problems.append(invalid_query("Each filter must be an object with exactly one key."))
            continue
        (name, body), = entry.items()
        try:
            predicates.append(_one_filter(str(name), body, fields, now, open_statuses))
        except ApiError as problem:
            problems.append(problem)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ApiError(422, "MultipleErrors", "Multiple field constraints have been violated.", problems)
    return predicates


def _one_filter(name: str, body: Any, fields: dict[str, FilterField], now: datetime,
                open_statuses: frozenset[int]) -> Predicate:
    field_ = fields.get(snake(name))
    if field_ is None:
        raise invalid_query(f"{name} filter does not exist.")
    label = field_.label or name
    if not isinstance(body, dict) or not isinstance(body.get("operator"), str):
        raise invalid_query(f"{label}: the filter needs an operator.")
    operator = body["operator"]
    values = body.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, (str, int)) for v in values):
        raise invalid_query(f"{label}: Values must be an array of strings.")
    values = [str(v) for v in values]
    get = field_.get
    if field_.kind == "datetime":
        lo, hi = _datetime_bounds(label, operator, values, now)
        predicate: Any = lambda item: (lambda v: v is not None and lo <= v <= hi)(get(item))  # noqa: E731
        # (field, lo, hi): lets a caller holding the items sorted by this field answer it by bisection.
        predicate.datetime_range = (snake(name), lo, hi)
        return predicate  # type: ignore[no-any-return]
    if field_.kind == "status" and operator in ("o", "c"):
        wanted_open = operator == "o"
        return lambda item: (get(item) in open_statuses) == wanted_open
    if operator == "*":
        return lambda item: get(item) is not None
    if operator == "!*":
        return lambda item: get(item) is None
    if operator in ("=", "!"):
        if not values or not all(v.isdigit() for v in values):
            raise invalid_query(f"{label} filter has invalid values.")
        wanted = {int(v) for v in values}
        if operator == "=":
            return lambda item: get(item) in wanted
        return lambda item: get(item) not in wanted
    raise invalid_query(f"{label}: Operator is not included in the list.")


def _datetime_bounds(label: str, operator: str, values: list[str], now: datetime) -> tuple[float, float]:
    """Inclusive [lo, hi] in epoch seconds for a datetime filter: whole seconds like the server, or milliseconds
    when the double's ``filter_precision`` is "ms" (see ``resources.epoch_seconds``)."""
    far_past, far_future = -(2**62), 2**62
    if operator not in DATETIME_OPERATORS:
        raise invalid_query(f"{label}: Operator is not included in the list.")
    today = day_start(now)
    try:
        if operator == "<>d":
            if not 1 <= len(values) <= 2 or not any(values):
                raise ValueError
            lo = epoch_seconds(parse_datetime(values[0])) if values[0] else far_past
            hi = far_future
            if len(values) == 2 and values[1]:
                upper = parse_datetime(values[1])
                # a bare date includes that whole day
                hi = end_of_day(upper) if len(values[1].strip()) == 10 else epoch_seconds(upper)
            return lo, hi
        if operator == "=d":
            if len(values) != 1:
                raise ValueError
            day = day_start(parse_datetime(values[0]))
            return epoch_seconds(day), end_of_day(day)
        if operator in ("t", "w"):
            first = today if operator == "t" else today - timedelta(days=today.weekday())
            last = today if operator == "t" else first + timedelta(days=6)
            return epoch_seconds(first), end_of_day(last)
        if len(values) != 1:
            raise ValueError
        days = int(values[0])
    except (ValueError, OverflowError):
        raise invalid_query(f"{label} filter has invalid values.") from None
    target = today - timedelta(days=days)
    if operator == ">t-":  # "less than days ago": from that day until the end of today
        return epoch_seconds(target), end_of_day(today)
    if operator == "<t-":  # "more than days ago": up to the end of that day
        return far_past, end_of_day(target)
    return epoch_seconds(target), end_of_day(target)  # "t-": exactly that day


# --- sorting ---------------------------------------------------------------------------------------------
def parse_sort(raw: str, keys: dict[str, Callable[[Any], Any]]) -> list[tuple[Callable[[Any], Any], bool]]:
    """`sortBy` JSON -> [(key function, descending)]; 400 InvalidQuery for bad JSON or unknown properties."""
    try:
        spec = json.loads(raw)
    except ValueError:
        raise invalid_query("sortBy is not valid JSON.") from None
    if not isinstance(spec, list):
        raise invalid_query("sortBy must be a JSON array of [property, direction] pairs.")
    out = []
    for pair in spec:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise invalid_query("sortBy must be a JSON array of [property, direction] pairs.")
        prop, direction = camel(pair[0]) if "_" in pair[0] else pair[0], pair[1].lower()
        if prop not in keys:
            raise invalid_query(f"Sorting by {pair[0]} is not supported.")
        if direction not in ("asc", "desc"):
            raise invalid_query(f"{direction} is not a valid sort direction.")
        out.append((keys[prop], direction == "desc"))
    return out


def apply_sort(items: list[Any], order: list[tuple[Callable[[Any], Any], bool]], id_of: Callable[[Any], int],
               default_descending: bool) -> list[Any]:
    """Sort by the requested keys (stable, id ascending as the final tie-break) or by the default id order."""
    if not order:
        return sorted(items, key=id_of, reverse=default_descending)
    items = sorted(items, key=id_of)
    for key, descending in reversed(order):
        items.sort(key=key, reverse=descending)
    return items


# --- select (signaling) ----------------------------------------------------------------------------------
@dataclass
class Selection:
    """What `select` asked for: ``ids_only`` means elements are reduced to {"id": N}."""

    ids_only: bool = False
    properties: set[str] = field(default_factory=set)


SELECTABLE = {"*", "total", "count", "pageSize", "offset", "elements", "elements/*", "elements/id", "_type"}


def parse_select(raw: str) -> Selection:
    """Parse `select=total,elements/id`; 400 InvalidSignal for properties the server cannot select."""
    props = {p.strip() for p in raw.split(",") if p.strip()}
    unknown = sorted(props - SELECTABLE)
    if unknown:
        raise ApiError(400, "InvalidSignal", f"The properties '{', '.join(unknown)}' are not supported for select.")
    wants_full = bool(props & {"*", "elements", "elements/*"})
    return Selection(ids_only="elements/id" in props and not wants_full, properties=props)


def now_utc() -> datetime:
    """Wall-clock now (aware UTC)."""
    return datetime.now(UTC)
