"""Child prefetch: a child collection (activities of a work package ...) is fetched on the request pool while the
parent's records are still being written, and picked up in order when the SDK reaches that parent."""

from __future__ import annotations

import typing as t

from tap_openproject.interrupt import INTERRUPT
from tap_openproject.paging.concurrency import Lookahead

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from concurrent.futures import Future

    from tap_openproject.paging.page import Pager, Record

#: Child collections fetched ahead and not yet read; older ones are dropped (and fetched again if ever read).
MAX_PREFETCHED = 256
ContextKey = tuple[tuple[str, t.Any], ...]


def context_key(context: t.Mapping[str, t.Any]) -> ContextKey:
    """A hashable key for a child context."""
    return tuple(sorted(context.items()))


class Prefetched:
    """One child stream's collections fetched ahead, by parent context."""

    def __init__(self) -> None:
        self._futures: dict[ContextKey, Future[list[Record]]] = {}

    def start(self, pager: Pager, context: t.Mapping[str, t.Any], fetch: Callable[[], list[Record]]) -> None:
        """Begin fetching the collection of `context` (once)."""
        key = context_key(context)
        if key in self._futures:
            return
        self._futures[key] = pager.submit(fetch)
        while len(self._futures) > MAX_PREFETCHED:  # a parent filtered out by a stream map is never read
            self._futures.pop(next(iter(self._futures))).cancel()

    def take(self, context: t.Mapping[str, t.Any]) -> list[Record] | None:
        """The records fetched ahead for `context`, or None when nothing was started for it."""
        future = self._futures.pop(context_key(context), None)
        return None if future is None else INTERRUPT.result(future)


def with_prefetch(
    records: Iterable[Record], start_children: Callable[[Record], None], depth: int
) -> Iterable[Record]:
    """The parent's records, starting each record's child fetches `depth` records before it is delivered."""
    return Lookahead(records, start_children, depth=depth)
