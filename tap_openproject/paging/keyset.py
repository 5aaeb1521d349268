"""Incremental reads on `updatedAt`: keyset pages, same-second bursts read as windows of their own, and parallel
time windows planned from rank probes.

Never offset pages over a result that moves while we read it: a record edited meanwhile would shift an unseen
one past us. Instead pages restart at the second of the last record (keyset), and with max_concurrency > 1 the
range up to the newest record is split into time windows fetched in parallel and delivered in order. Windows
overlap by one second, so no record falls between two whatever precision the server compares at; records edited
during the sync move past the newest second and are read by the open-ended window, which runs last.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

from tap_openproject.errors import HTTPStatusError, SyncError
from tap_openproject.paging.numbered import NumberedPages
from tap_openproject.paging.windows import Window, plan_windows, probe_ranks
from tap_openproject.timeutil import datetime_value, next_second, second

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_openproject.http.client import Ahead
    from tap_openproject.paging.page import Element, Pager, Query, Record

logger = logging.getLogger("tap-openproject")

#: Passes over a same-second burst longer than a page (see `_burst`).
BURST_PASSES = 3


def timestamp(element: Element, key: str) -> str:
    """An element's canonical replication timestamp (as flattening renders it)."""
    return t.cast("str", datetime_value(element.get(key))) or ""


def _unseen(records: Iterable[Record], seen: dict[t.Any, str], key: str) -> Iterator[Record]:
    """Records whose version was not yielded yet (and remember them). Flat records: their timestamps are canonical
    already, and reading a dict is what costs least per record."""
    for record in records:
        version = f"{record.get(key) or ''}|{record.get('lockVersion', '')}"
        ident = record.get("id")
        if seen.get(ident) != version:
            seen[ident] = version
            yield record


def _past_overlap(
    records: Iterable[Record], seen: dict[t.Any, str], start: str, restart: str | None, key: str
) -> t.Generator[Record, None, dict[t.Any, str]]:
    """A keyset page's records without those the page before yielded: only records of the second the page starts
    at (`start`, where the page before ended) can have been, and `seen` holds that second's versions. Returns the
    versions of `restart`'s second (where the next page starts), for the next page."""
    kept: dict[t.Any, str] = {}
    for record in records:
        at_second = (record.get(key) or "")[:19]
        if at_second in (start, restart):
            version = f"{record.get(key) or ''}|{record.get('lockVersion', '')}"
            ident = record.get("id")
            if at_second == start and seen.get(ident) == version:
                continue
            if at_second == restart:
                kept[ident] = version
        yield record
    return kept


@dataclass(frozen=True)
class UpdatedAtKeyset:
    """Records updated since the query's lower bound, in (updatedAt, id) order, each version once.

    optional: servers that answer 400 to the updatedAt filter or sort (projects before late 2025) are read as a
    full table instead, with a warning.
    """

    optional: bool = False

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The query's records, flattened and fresh-filtered."""
        if query.replication_key is None:  # the catalog made the stream FULL_TABLE
            yield from NumberedPages().records(pager, query)
            return
        fresh = t.cast("t.Callable[[Iterable[Record]], Iterator[Record]]", query.fresh)
        key = t.cast("str", query.replication_key)
        lower = second(query.since) if query.since else None
        clock = pager.clock
        try:
            page = pager.first(query, self._params(pager, query, lower, None))
        except HTTPStatusError as exc:
            if not (self.optional and exc.status == 400):
                raise
            logger.warning(
                "This server cannot filter or sort %s by %s (%s): falling back to a full-table read",
                query.label,
                key,
                exc,
            )
            yield from NumberedPages().records(pager, query)
            return
        started = clock.monotonic()
        records = query.flat(page.elements)
        depth = pager.depth_for(page.server_s, clock.monotonic() - started)
        yield from fresh(records)
        if page.is_last:
            return
        reached = second(timestamp(page.elements[-1], key))
        if depth > 1 and page.total and page.page_size:
            span = pager.window_span(page.page_size, depth)
            windows = self._plan(pager, query, lower, reached, page.total, page.page_size, span)

            def fetch(window: Window) -> list[Record]:
                return list(self._window(pager, query, window[0], window[1]))

            for window_records in pager.ordered(fetch, windows, depth):
                yield from fresh(window_records)
            if windows:
                reached = windows[-1][1]
        # The rest in keyset pages, each requested while the records of the one before are made and written.
        yield from fresh(self._window(pager, query, reached, None, ahead=pager.concurrency > 1))

    @staticmethod
    def _params(
        pager: Pager, query: Query, lower: str | None, upper: str | None, offset: int = 1
    ) -> dict[str, t.Any]:
        key = t.cast("str", query.replication_key)
        between = [{key: {"operator": "<>d", "values": [lower + "Z", upper + "Z" if upper else ""]}}] if lower else []
        return query.params(
            pager.page_size, offset=offset, filters=query.filters + between, sort_by=[[key, "asc"], ["id", "asc"]]
        )

    def _plan(
        self, pager: Pager, query: Query, lower: str | None, reached: str, total: int, page_size: int, span: int
    ) -> list[Window]:
        """Windows of about `span` records each, from `reached` up to the newest record now (probes in
        parallel)."""
        key = t.cast("str", query.replication_key)

        def second_at(rank: int) -> str | None:
            params = self._params(pager, query, lower, None, offset=rank)
            params["pageSize"] = 1
            elements = pager.page(query, params).elements
            return second(timestamp(elements[0], key)) if elements else None

        ranks = probe_ranks(total, page_size, span)
        probes = list(pager.ordered(second_at, ranks, pager.concurrency))
        return plan_windows(reached, probes)

    def _window(
        self, pager: Pager, query: Query, lower: str, upper: str | None, *, ahead: bool = False
    ) -> Iterator[Record]:
        """Records updated in [lower, upper] (seconds, inclusive; upper None = open), each version once.
        `ahead`: request each next page on the pool as soon as this one has arrived (its last element says where
        the next starts), so the server answers while this page's records are made and written."""
        key = t.cast("str", query.replication_key)
        seen: dict[t.Any, str] = {}  # versions yielded within the current restart second (and a burst's)
        page = pager.page(query, self._params(pager, query, lower, upper))
        following_page: Ahead | None = None
        try:
            while True:
                if not page.is_last and second(timestamp(page.elements[-1], key)) == lower:
                    # A whole page shares one second: a burst longer than a page (a bulk edit). Offset pages over
                    # it could skip a row when a member is saved or deleted meanwhile; read it as a closed window
                    # of its own, verified, then go on after it.
                    following = next_second(lower)
                    burst_end = following if upper is None or following <= upper else upper
                    yield from self._burst(pager, query, lower, burst_end, seen)
                    if burst_end == upper:
                        return
                    lower = following
                    seen = {i: v for i, v in seen.items() if v.startswith(lower)}
                    page = pager.page(query, self._params(pager, query, lower, upper))
                    continue
                start, restart, last = lower, None, page.is_last
                if not last:
                    restart = lower = second(timestamp(page.elements[-1], key))
                    params = self._params(pager, query, lower, upper)
                    if ahead:
                        following_page = pager.ahead(query, params)
                seen = yield from _past_overlap(query.consume(page), seen, start, restart, key)
                if last:
                    return
                page, following_page = pager.page(query, params, following_page), None
        finally:
            if following_page is not None:
                following_page.cancel()

    def _burst(
        self, pager: Pager, query: Query, lower: str, upper: str, seen: dict[t.Any, str]
    ) -> Iterator[Record]:
        """Every record of [lower, upper] by page-number offsets, read again until a pass finds nothing new:
        a row that a concurrent save or delete shifted past one pass's page boundary shows up in the next."""
        key = t.cast("str", query.replication_key)
        for attempt in range(BURST_PASSES):
            before = len(seen)
            offset = 1
            while True:
                page = pager.page(query, self._params(pager, query, lower, upper, offset))
                last = page.is_last
                yield from _unseen(query.consume(page), seen, key)
                if last:
                    break
                offset += 1
            if attempt and len(seen) == before:
                return
        # Going on would move the bookmark past this second with a row possibly unread: stop instead. The
        # bookmark stays at or before it, so the next run reads the burst again.
        raise SyncError(
            f"{query.label}: records updated in {lower} kept changing while {BURST_PASSES} passes read them "
            "(a bulk edit in progress?); stopped without moving past them: run again"
        )
