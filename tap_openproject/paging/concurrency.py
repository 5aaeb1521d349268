"""Bounded parallel requests that keep output order (used by the readers and child prefetch).

The SDK runs every stream, page and child request one after another. Here requests run on a small thread pool
while records still reach the SDK one at a time, in order: results are consumed in submission order, at most
`window` requests are in flight or waiting to be consumed (memory stays flat), and nothing waits on the pool from
inside the pool (no deadlock).
"""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from tap_openproject.interrupt import INTERRUPT

T = t.TypeVar("T")
R = t.TypeVar("R")


def ordered_map(
    executor: ThreadPoolExecutor,
    function: t.Callable[[T], R],
    items: t.Iterable[T],
    window: int,
) -> t.Iterator[R]:
    """`map(function, items)` on the pool, `window` at a time, results in order; the first error is raised
    where its result would have been, and everything not yet started is cancelled."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(function, item))
            if len(pending) >= window:
                yield INTERRUPT.result(pending.popleft())
        while pending:
            yield INTERRUPT.result(pending.popleft())
    finally:
        for future in pending:
            future.cancel()


class Lookahead(t.Generic[T]):
    """Runs a side task for each item up to `depth` items ahead of the consumer (child prefetch)."""

    def __init__(self, items: t.Iterable[T], start: t.Callable[[T], None], depth: int) -> None:
        self._items = iter(items)
        self._start = start
        self._depth = max(1, depth)

    def __iter__(self) -> t.Iterator[T]:
        buffer: deque[T] = deque()
        for item in self._items:
            self._start(item)
            buffer.append(item)
            if len(buffer) > self._depth:
                yield buffer.popleft()
        while buffer:
            yield buffer.popleft()
