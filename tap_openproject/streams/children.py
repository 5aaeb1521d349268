"""ChildCollection: a collection that exists only per parent resource (a meeting's agenda items, a work package's
watchers ...), read for each parent the parent stream delivers."""

from __future__ import annotations

import typing as t

from tap_openproject.paging import NumberedPages
from tap_openproject.streams.base import OpenProjectStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.streams.base import Record


class ChildCollection(OpenProjectStream):
    """A per-parent collection: one bookmark for the whole stream, context columns copied into each record."""

    # One state for the whole stream, not one per parent: per-parent state grows quadratically.
    state_partitioning_keys: t.ClassVar[list[str]] = []  # type: ignore[misc]
    reader = NumberedPages(parallel=False)  # fetched ahead on the request pool (see paging/prefetch.py)
    #: Context keys written into every record (the parent's id when the element itself does not name it).
    context_columns: t.ClassVar[tuple[str, ...]] = ()

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: a run reads only the children of the parents it delivers, so activating a new table version
        would retire the children of every other parent."""
        return False

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """The record with its parent's id columns."""
        for key in self.context_columns:
            row[key] = (context or {}).get(key)
        return super().post_process(row, context)
