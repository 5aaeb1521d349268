"""Routing by declaration: path templates compiled once, matched in order, captured parameters handed on.

A template is a path whose segments are literals, ``{name}`` (any one segment, passed as str) or
``{name:int}`` (a numeric segment, passed as int)::

    Route("/api/v3/work_packages/{id:int}/activities", handler)

A :class:`RouteTable` holds entries in order; an entry is a :class:`Route` or anything else that expands to
routes (a collection :class:`~.listing.Endpoint` gives its list and by-id routes). The first route whose
template matches the whole path answers; a path no route matches, or one under ``missing_collections``,
is 404 NotFound. A missing collection is a path prefix (``/api/v3/meetings``) or a template
(``/api/v3/work_packages/{id:int}/watchers``: that collection of every work package).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .reply import Caller, Reply, not_found

if TYPE_CHECKING:
    from .server import OpenProjectDouble

_PARAMETER = re.compile(r"\{(?P<name>[a-z_]+)(?::(?P<kind>[a-z]+))?\}")


@dataclass(frozen=True)
class Request:
    """One request as a handler sees it: the double, the normalised path, the query, the caller, and the
    parameters its route captured."""

    op: OpenProjectDouble
    path: str
    query: dict[str, str]
    caller: Caller
    params: dict[str, Any]


Handler = Callable[[Request], Reply]
# A compiled segment: a literal to compare, or (parameter name, numeric?).
_Segment = str | tuple[str, bool]


def _compile(pattern: str) -> tuple[_Segment, ...]:
    segments: list[_Segment] = []
    for text in pattern.split("/"):
        found = _PARAMETER.fullmatch(text)
        if found is None:
            if "{" in text or "}" in text:
                raise ValueError(f"route {pattern!r}: cannot read the segment {text!r}")
            segments.append(text)
        elif found["kind"] in (None, "int"):
            segments.append((found["name"], found["kind"] == "int"))
        else:
            raise ValueError(f"route {pattern!r}: unknown parameter kind {found['kind']!r} (use int or none)")
    return tuple(segments)


@dataclass(frozen=True)
class Route:
    """One path template and the handler that answers it."""

    pattern: str
    handler: Handler
    segments: tuple[_Segment, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _compile(self.pattern))

    def match(self, parts: list[str]) -> dict[str, Any] | None:
        """The captured parameters when ``parts`` (a path split on "/") fits this template, else None."""
        if len(parts) != len(self.segments):
            return None
        params: dict[str, Any] = {}
        for part, segment in zip(parts, self.segments, strict=True):
            if isinstance(segment, str):
                if part != segment:
                    return None
                continue
            name, numeric = segment
            if numeric and not part.isdigit():
                return None
            params[name] = int(part) if numeric else part
        return params

    def routes(self) -> tuple[Route, ...]:
        """A route is a table entry of its own."""
        return (self,)


_RESOURCE = 3  # the segment after "", "api", "v3"


def _resource_key(segments: tuple[_Segment, ...]) -> str | None:
    """The literal resource segment of a template, or None when it has none there."""
    if len(segments) > _RESOURCE and isinstance(segments[_RESOURCE], str):
        return str(segments[_RESOURCE])
    return None


class Entry(Protocol):
    """A table entry: anything that expands to routes."""

    def routes(self) -> tuple[Route, ...]:
        """The routes this entry declares, in matching order."""
        ...


class RouteTable:
    """Entries in matching order; the first route that fits a path answers it."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = tuple(entries)
        self.routes = tuple(route for entry in self.entries for route in entry.routes())
        # Candidates, in table order, by segment count and resource segment (after /api/v3), so that a lookup
        # tries a few templates instead of all: templates with a parameter there join every bucket of their length.
        wild: dict[int, list[Route]] = {}
        buckets: dict[tuple[int, str], list[Route]] = {}
        for route in self.routes:
            length, key = len(route.segments), _resource_key(route.segments)
            if key is None:
                wild.setdefault(length, []).append(route)
                for (other, _), bucket in buckets.items():
                    if other == length:
                        bucket.append(route)
            else:
                buckets.setdefault((length, key), list(wild.get(length, ()))).append(route)
        self._wild = {length: tuple(routes) for length, routes in wild.items()}
        self._buckets = {key: tuple(routes) for key, routes in buckets.items()}

    def with_entries(self, *entries: Entry) -> RouteTable:
        """A copy with ``entries`` added after the existing ones (so they cannot shadow them)."""
        return RouteTable([*self.entries, *entries])

    def find(self, path: str) -> tuple[Route, dict[str, Any]] | None:
        """The route answering ``path`` and its parameters, or None."""
        parts = path.split("/")
        candidates = self._buckets.get((len(parts), parts[_RESOURCE])) if len(parts) > _RESOURCE else None
        for route in candidates or self._wild.get(len(parts), ()):
            params = route.match(parts)
            if params is not None:
                return route, params
        return None

    def answer(self, op: OpenProjectDouble, path: str, query: dict[str, str], caller: Caller) -> Reply:
        """Route a normalised path (no trailing slash); raises ApiError for every error answer."""
        if any(_under(path, missing) for missing in op.missing_collections):
            raise not_found(path)
        found = self.find(path)
        if found is None:
            raise not_found(path)
        route, params = found
        return route.handler(Request(op, path, query, caller, params))


def _under(path: str, missing: str) -> bool:
    """Whether ``path`` is the missing collection ``missing`` (a path or a template) or lies below it."""
    missing = missing.rstrip("/")
    if "{" not in missing:
        return path == missing or path.startswith(missing + "/")
    template = Route(missing, _never)
    parts = path.split("/")
    return len(parts) >= len(template.segments) and template.match(parts[:len(template.segments)]) is not None


def _never(req: Request) -> Reply:
    raise not_found(req.path)
