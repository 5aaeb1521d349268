"""One page of a HAL collection, the one rule that says whether it was the last, and the one primitive that reads
a page (`Pager.read`). Every reader, discovery and the deletion sweep read pages through it.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import typing as t
from dataclasses import dataclass, field, replace

from tap_openproject.errors import HTTPStatusError, SyncError
from tap_openproject.http import Missing
from tap_openproject.paging.concurrency import ordered_map
from tap_openproject.paging.elements import TypedElement
from tap_openproject.timeutil import Clock, parse_datetime

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import ThreadPoolExecutor

    from tap_openproject.http import ApiResponse, OpenProjectClient
    from tap_openproject.http.client import Ahead
    from tap_openproject.http.responses import Decode
    from tap_openproject.observability import RunStats

logger = logging.getLogger("tap-openproject")

Element = dict[str, t.Any]
Record = dict[str, t.Any]
#: Pages of records (up to page_size each) in flight or waiting at once: memory stays flat whatever the size of
#: the instance, and beyond this depth a page-sized response no longer finishes sooner. Small requests (child
#: collections, rank samples) use the full max_concurrency.
PAGES_IN_FLIGHT = 4


@dataclass(frozen=True)
class Page:
    """One decoded HAL collection answer."""

    elements: list[Element]
    total: int | None
    page_size: int | None
    offset: int
    #: How long the server took to answer (until its headers arrived), in seconds.
    server_s: float = 0.0

    @property
    def paginated(self) -> bool:
        """Paginated collections report pageSize; unpaginated ones return everything at once."""
        return self.page_size is not None

    @property
    def is_last(self) -> bool:
        """No further page exists: an unpaginated answer, an empty page or a short one.

        A full page is never the last on `total` alone: a row created between the server's COUNT and SELECT, or
        a proxy rewriting bodies, makes `total` undercount, and ending there would lose records silently. So a
        full page costs one more request (empty when `total` was right); a short last page costs none.
        """
        if not self.paginated or not self.elements or not self.page_size:
            return True
        return len(self.elements) < self.page_size

    @property
    def overruns_total(self) -> bool:
        """This page holds elements past the `total` it reports (that total undercounts)."""
        if not self.paginated or not self.page_size or not isinstance(self.total, int):
            return False
        return (self.offset - 1) * self.page_size + len(self.elements) > self.total

    def sized(self, page_size: int) -> Page:
        """This page with a page size the caller learnt elsewhere (answers to `select` may omit pageSize)."""
        return self if self.page_size else replace(self, page_size=page_size)


def page_of(response: ApiResponse, offset: int) -> Page:
    """The page in an answer; a body without `_embedded.elements` is not an OpenProject collection."""
    body = response.body
    embedded = body.get("_embedded") if isinstance(body, dict) else None
    elements = embedded.get("elements") if isinstance(embedded, dict) else None
    if not isinstance(elements, list):
        raise SyncError(
            f"GET {response.path} did not answer with a collection (_embedded.elements missing): is base_url an "
            "OpenProject instance?"
        )
    page_size = body.get("pageSize")
    return Page(
        elements=elements,
        total=body.get("total"),
        page_size=page_size if isinstance(page_size, int) else None,
        offset=body.get("offset") or offset,
        server_s=response.server_s,
    )


#: The keys every record needs: its primary key (and, on an incremental stream, its replication key).
Keys = tuple[str, ...]
ID: Keys = ("id",)


#: Replication keys: they must hold a parseable timestamp.
TIMESTAMP_KEYS = frozenset({"updatedAt", "createdAt"})


def _lacks(element: t.Any, key: str) -> bool:
    """The element has no usable `key`: an integer id, a parseable replication timestamp, or (the natural key of
    a resource without an id, such as a day's date) any value at all."""
    value = element.get(key) if isinstance(element, (dict, TypedElement)) else None
    if key == "id":
        return not isinstance(value, int) or isinstance(value, bool)
    if key not in TIMESTAMP_KEYS:
        return value is None or isinstance(value, (bool, dict, list))
    if not isinstance(value, str):
        return True
    if len(value) in (20, 24) and value[10] == "T" and value.endswith("Z"):  # OpenProject's own forms: no parsing
        return False
    try:
        parse_datetime(value)
    except ValueError:
        return True
    return False


def require_keys(page: Page, label: str, path: str, keys: Keys) -> None:
    """Refuse a page with an element that lacks a key: it would become a record with `id: null` (and a child
    request to `/work_packages/None/...`), or break the keyset order, instead of failing loudly."""
    for key in keys:
        position = next((i for i, element in enumerate(page.elements, start=1) if _lacks(element, key)), 0)
        if position:
            what = "an integer id" if key == "id" else f"a valid {key}"
            raise SyncError(
                f"{label}: GET {path} returned an element without {what} (element {position} of page "
                f"{page.offset}): refusing to deliver a record without a key; check the server or a proxy "
                "rewriting bodies"
            )


def json_param(value: t.Any) -> str:
    """A compact JSON query parameter (filters, sortBy)."""
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Query:
    """One stream's collection request, as a reader needs it."""

    label: str
    path: str
    flatten: Callable[[Element], Record]
    filters: list[dict[str, t.Any]] = field(default_factory=list)
    #: Work packages: without `filters` the server returns only open ones, so always send it.
    always_send_filters: bool = False
    #: The stream's own collection (not one parent's children): its first page reports the stream's total.
    reports_total: bool = True
    replication_key: str | None = None
    #: Incremental lower bound (canonical timestamp), from the bookmark or start_date.
    since: str | None = None
    #: Drops versions already delivered (by an overlapping page or window, or the previous run).
    fresh: Callable[[Iterable[Record]], Iterator[Record]] | None = None
    project_ids: tuple[int, ...] = ()
    #: The stream's page decoder (typed pages, see typed.py); None: plain JSON.
    decode: Decode | None = None

    def params(
        self,
        page_size: int,
        *,
        offset: int = 1,
        filters: list[dict[str, t.Any]] | None = None,
        sort_by: list[list[str]] | None = None,
    ) -> dict[str, t.Any]:
        """Query parameters: filters (always `filters`, never `filter`), pageSize, page-number offset, sortBy."""
        filters = self.filters if filters is None else filters
        params: dict[str, t.Any] = {"pageSize": page_size, "offset": offset}
        if filters or self.always_send_filters:
            params["filters"] = json_param(filters)
        if sort_by:
            params["sortBy"] = json_param(sort_by)
        return params

    #: The key each element must carry: its integer `id`, or the natural key of a resource without one.
    identity: str = "id"

    @property
    def keys(self) -> Keys:
        """What each element must carry to become a record: its identity, and the replication key if any."""
        return (self.identity, self.replication_key) if self.replication_key else (self.identity,)

    def flat(self, elements: Iterable[Element]) -> list[Record]:
        """Flatten a page's elements (on a worker: a page waiting for its turn holds flat records)."""
        return [self.flatten(e) for e in elements]

    def consume(self, page: Page) -> Iterator[Record]:
        """A page's records, flattened one at a time as they are taken, each element let go as soon as it is
        flattened: its objects are freed while still in the cache, and memory holds one record, not a page of
        them (a fifth of the cost of a work package; bench: record_path). The page has no elements afterwards
        (its length, and so `is_last`, stay as they were)."""
        elements: list[t.Any] = page.elements  # each taken element becomes None
        flatten = self.flatten
        for index in range(len(elements)):
            element, elements[index] = elements[index], None
            record = flatten(element)
            del element
            yield record


class Reader(t.Protocol):
    """How a stream's collection is read: a stream declares one (page numbers, keyset, per-project routes)."""

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The collection's records, flattened."""
        ...


class Pager:
    """Reads pages for the readers: the client, the request pool and the sizes in one place."""

    def __init__(
        self,
        client: OpenProjectClient,
        *,
        page_size: int,
        concurrency: int,
        pool: Callable[[], ThreadPoolExecutor],
        stats: RunStats,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.clock = clock or Clock()
        self.page_size = page_size
        self.concurrency = concurrency
        self._pool = pool
        self._stats = stats
        self._noted: set[tuple[str, str]] = set()
        self._noted_lock = threading.Lock()

    def read(
        self,
        label: str,
        path: str,
        params: dict[str, t.Any],
        *,
        missing: Missing = Missing.FAIL,
        keys: Keys = ID,
        decode: Decode | None = None,
        ahead: Ahead | None = None,
    ) -> Page:
        """GET one page (retried; `ahead`: sent already, see `ahead`), decode it and check that each element has
        `keys`."""
        try:
            response = self.client.get(path, params, label=label, missing=missing, decode=decode, ahead=ahead)
        except HTTPStatusError as exc:  # name the stream (CollectionUnavailable is no HTTPStatusError)
            raise HTTPStatusError(f"{label}: {exc}", exc.status) from None
        return self._checked(label, response, params, keys)

    def page(self, query: Query, params: dict[str, t.Any], ahead: Ahead | None = None) -> Page:
        """One page of a stream's collection, each element checked for the keys a record needs."""
        return self.read(query.label, query.path, params, keys=query.keys, decode=query.decode, ahead=ahead)

    def ahead(self, query: Query, params: dict[str, t.Any]) -> Ahead:
        """Send the request for a page now; `page(query, params, ahead)` reads it later (the answer is decoded
        there, by the thread that makes its records)."""
        return self.client.send_ahead(query.path, params)

    def first(self, query: Query, params: dict[str, t.Any]) -> Page:
        """A stream's first request: it decides whether this server has the collection and lets us read it."""
        page = self.read(
            query.label, query.path, params, missing=Missing.SKIP_STREAM, keys=query.keys, decode=query.decode
        )
        if query.reports_total and page.total is not None:
            self._stats.of(query.label).total = page.total
        return page

    def elements(
        self, label: str, path: str, params: dict[str, t.Any] | None = None, *, keys: Keys = ()
    ) -> list[Element]:
        """Every element of a collection that may not exist here (403/404: none), following pages. `keys`: what
        each element must carry (none by default: schema ids such as "12-1" are no integers)."""
        found: list[Element] = []
        offset = 1
        while True:
            query = {"pageSize": self.page_size, "offset": offset, **(params or {})}
            response = self.client.get_optional(path, query, label=label)
            if response is None:
                return found
            page = self._checked(label, response, query, keys)
            found.extend(page.elements)
            if page.is_last:
                return found
            offset += 1

    def _checked(self, label: str, response: ApiResponse, params: t.Mapping[str, t.Any], keys: Keys) -> Page:
        """The page in `response`, its keys checked, with what it says about the server noted once per stream."""
        page = page_of(response, params.get("offset") or 1)
        require_keys(page, label, response.path, keys)
        asked = params.get("pageSize")
        if page.page_size and isinstance(asked, int) and page.page_size < asked and self._first_time(label, "cap"):
            logger.info("%s: the server capped pageSize at %d (asked for %d)", label, page.page_size, asked)
        if page.overruns_total and self._first_time(label, "total"):
            logger.warning(
                "%s: GET %s page %d holds elements past the total of %d it reports: the server's total "
                "undercounted (a row created meanwhile, or a proxy rewriting bodies); reading on until a short page",
                label,
                response.path,
                page.offset,
                page.total,
            )
        return page

    def _first_time(self, label: str, what: str) -> bool:
        """True once per (stream, observation): pages of one stream are read on several threads."""
        with self._noted_lock:
            if (label, what) in self._noted:
                return False
            self._noted.add((label, what))
            return True

    def ordered(self, function: Callable[[t.Any], t.Any], items: Iterable[t.Any], depth: int) -> Iterator[t.Any]:
        """`map(function, items)` on the request pool, `depth` at a time, results in order."""
        return ordered_map(self._pool(), function, items, depth)

    @property
    def page_depth(self) -> int:
        """Page-sized requests in flight at once."""
        return min(self.concurrency, PAGES_IN_FLIGHT)

    def window_span(self, page_size: int, depth: int | None = None) -> int:
        """Records per parallel time window, so that one window per request in flight (`depth`, max_concurrency
        by default) holds no more records than PAGES_IN_FLIGHT pages: with 8 in flight half a page, so a server
        that renders each record slowly spreads that cost over every thread, not over PAGES_IN_FLIGHT of them, at
        the same memory; with 2 in flight two pages, so fewer probes find the windows' bounds."""
        depth = depth or self.concurrency
        return max(1, page_size * PAGES_IN_FLIGHT // max(1, depth))

    def depth_for(self, server_s: float, records_s: float) -> int:
        """Requests in flight for a parallel read, judged by its first page: how long the server took to answer
        it (`server_s`, until its headers) against how long the tap took to make its records (`records_s`, about
        half of what the tap spends on a page). 1 for a server that answers a page sooner than the tap uses it:
        the reader then keeps one request ahead of the records, and more requests would only cost CPU (probes,
        pages held in memory, threads competing for the interpreter; bench: record_path). A slower one gets what
        hides its latency, up to max_concurrency. Unmeasured (no time passed, as with a test's clock):
        max_concurrency."""
        if records_s <= 0:
            return self.concurrency
        ratio = server_s / (2 * records_s)
        return 1 if ratio <= 1 else min(self.concurrency, math.ceil(ratio) + 1)

    def submit(self, function: Callable[[], t.Any]) -> t.Any:
        """Run `function` on the request pool; returns its Future."""
        return self._pool().submit(function)
