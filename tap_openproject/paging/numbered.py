"""Page-number paging (OpenProject's `offset` is a page number): sequential, or parallel once the first page
tells the total."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_openproject.paging.page import Page, Pager, Query, Record


@dataclass(frozen=True)
class NumberedPages:
    """Every element of a collection, page by page, in the server's order.

    parallel: fetch pages 2..n on the request pool once the first page tells the total (delivered in order).
    A reader that itself runs on the pool (child prefetch) must not: nothing waits on the pool from inside it.
    """

    parallel: bool = True

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The collection's records, flattened."""
        page = pager.first(query, query.params(pager.page_size))
        yield from query.consume(page)
        if page.is_last:
            return
        offset = 1
        if self.parallel and pager.concurrency > 1 and page.total and page.page_size:
            last = -(-page.total // page.page_size)

            def fetch(number: int) -> tuple[list[Record], Page]:
                fetched = pager.page(query, query.params(pager.page_size, offset=number))
                return list(query.consume(fetched)), fetched

            for records, fetched in pager.ordered(fetch, range(2, last + 1), pager.page_depth):
                yield from records
                page = fetched  # the last page decides below whether the collection grew meanwhile
            offset = last
        while not page.is_last:  # sequential, or the collection grew while we read it
            offset += 1
            page = pager.page(query, query.params(pager.page_size, offset=offset))
            yield from query.consume(page)
