"""OpenProjectStream: the adapter between the SDK and the tap's readers. It builds the stream's query, hands it to
the reader the stream declares, and passes records on; the mechanics live in http/, paging/ and bookmarks.py.

A stream subclass is a declaration: name, path, record shape, replication key, reader, project scope.
"""

from __future__ import annotations

import typing as t

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_openproject.bookmarks import BookmarkPolicy
from tap_openproject.columns import CatalogColumns
from tap_openproject.errors import CollectionUnavailable
from tap_openproject.hal import UNMAPPED
from tap_openproject.paging import NumberedPages, Prefetched, Query, with_prefetch
from tap_openproject.sdk_hooks import StreamHooks

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_openproject.bookmarks import StateCadence
    from tap_openproject.hal import RecordShape
    from tap_openproject.observability import RunStats
    from tap_openproject.paging.page import Reader
    from tap_openproject.runtime import RunContext

Record = dict[str, t.Any]


class OpenProjectStream(StreamHooks):
    """One OpenProject API v3 collection."""

    #: What the records look like (schema and flattening from one declaration).
    shape: t.ClassVar[RecordShape]
    #: The collection path under /api/v3; `{name}` is filled from a child's context.
    path: t.ClassVar[str]
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)  # type: ignore[misc]
    #: How the collection is read (page numbers, keyset on updatedAt, per-project routes ...).
    reader: t.ClassVar[Reader] = NumberedPages()
    #: Filter name that restricts this endpoint to projects (project_ids), if the server has one.
    project_filter: t.ClassVar[str | None] = None
    #: Record column to restrict by project on the client side when the endpoint has no such filter.
    project_column: t.ClassVar[str | None] = None
    #: Work packages: without `filters` the server returns only open ones, so always send it.
    always_send_filters: t.ClassVar[bool] = False
    #: What identifies an element of the collection: its integer `id`, or a natural key (a day's `date`).
    element_key: t.ClassVar[str] = "id"
    #: A child collection: the parent resource's own path (`{name}` from the context). A 404 on the child is then
    #: told apart by asking for the parent: a parent that is gone (deleted meanwhile) means nothing to read, a
    #: parent that is there means this server lacks the collection (the stream is skipped with a warning).
    parent_path: t.ClassVar[str | None] = None
    #: Which resource's custom fields this stream carries (see custom_fields.py); defaults to the stream name.
    custom_field_resource: t.ClassVar[str | None] = None
    #: Records leave `RecordShape.flatten` as JSON-native values of exactly the declared types (and custom fields
    #: typed from the instance's schemas), so the SDK's per-record conformance pass is skipped.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, run: RunContext) -> None:
        schema = self.shape.json_schema()
        if self.shape.custom_fields and not run.catalog_supplied:
            # With a catalog, its schema (typed custom fields included, from discovery) is what the SDK uses:
            # reading the instance's schemas again would only cost requests that grow with the instance.
            schema["properties"].update(run.custom_fields.properties(self.custom_field_resource or self.name))
        super().__init__(tap, schema=schema)
        self.run = run
        self._prefetched = Prefetched()
        self._catalog_columns: CatalogColumns | None = None

    @property
    def run_stats(self) -> RunStats:
        """The run's statistics."""
        return self.run.stats

    @property
    def state_cadence(self) -> StateCadence:
        """When the run writes STATE."""
        return self.run.state_cadence

    @property
    def catalog_columns(self) -> CatalogColumns:
        """What of this stream's records the catalog lets out (built on first use: the catalog is applied)."""
        if self._catalog_columns is None:
            self._catalog_columns = CatalogColumns(
                self.name,
                declared=self.shape.json_schema()["properties"],
                catalog=self.effective_schema,
                unmapped_selected=self.mask[("properties", UNMAPPED)],
                custom_fields=self.shape.custom_fields,
                logger=self.logger,
            )
        return self._catalog_columns

    @classmethod
    def scope_filters(cls, project_ids: t.Sequence[int]) -> list[dict[str, t.Any]]:
        """Filters every request of this stream carries (project scoping on the server side)."""
        if project_ids and cls.project_filter:
            return [{cls.project_filter: {"operator": "=", "values": [str(p) for p in project_ids]}}]
        return []

    def query(self, context: Context | None) -> Query:
        """What the reader needs to know about this stream's collection (for a child: of this parent)."""
        key = self.replication_key
        if key and self.bookmarks is None:
            self.bookmarks = BookmarkPolicy(key, self.run.bookmark_cap, self.run.settings.lookback_seconds)
        since = None
        if key and self.bookmarks:  # lookback_seconds before the bookmark, never before start_date
            state = self.get_context_state(context)
            since = self.bookmarks.since(self.get_starting_timestamp(context), state, self.config.get("start_date"))
        return Query(
            label=self.name,
            path=self.path.format(**(context or {})),
            flatten=self.shape.flatten,
            filters=self.scope_filters(self.run.settings.project_ids),
            always_send_filters=self.always_send_filters,
            reports_total=context is None,
            replication_key=key,
            since=since,
            fresh=self.bookmarks.fresh(self.get_context_state(context)) if key and self.bookmarks else None,
            project_ids=self.run.settings.project_ids,
            identity=self.element_key,
            decode=self.run.page_decoder(self.shape),
        )

    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Every record of this stream (for a child: of this parent), or none if the stream is unavailable."""
        self.run.start()
        if self.name in self.run.unavailable:
            return
        try:
            prefetched = self._prefetched.take(context) if context else None
            records = self.reader.records(self.run.pager, self.query(context)) if prefetched is None else prefetched
            yield from self._with_child_prefetch(records)
        except CollectionUnavailable as unavailable:
            self.run.unavailable.mark(self.name, str(unavailable), self._unavailable_scope(unavailable, context))
            if self.name in self.run.unavailable:
                self._skip_children()

    def _skip_children(self) -> None:
        """Children of a skipped stream have no parent records to read from: skipped too, each with its warning
        (else a selected child delivers nothing unexplained, even with fail_on_unavailable_streams)."""
        for child in self.child_streams:
            if child.selected and isinstance(child, OpenProjectStream) and child.name not in self.run.unavailable:
                self.run.unavailable.mark(child.name, f"its parent stream {self.name} is unavailable", None)
                child._skip_children()

    def _unavailable_scope(self, unavailable: CollectionUnavailable, context: Context | None) -> Context | None:
        """The context a 403/404 concerns: the parent's (that one parent is gone) or None (the whole stream)."""
        if context is None or unavailable.status != 404 or self.parent_path is None:
            return context
        parent = self.run.client.get_optional(self.parent_path.format(**context), label=self.name)
        return context if parent is None else None

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:  # noqa: ARG002
        """Client-side project scoping where the endpoint has no project filter; warnings about undeclared data."""
        project_ids = self.run.settings.project_ids
        scoped_here = project_ids and self.project_column and not self.project_filter
        if scoped_here and row.get(t.cast("str", self.project_column)) not in project_ids:
            return None
        self.catalog_columns.observe(row)
        return row

    # -- children: fetched ahead, on the pool, consumed in order by the SDK ----------------------------------------
    def prefetch(self, context: Context) -> None:
        """Start fetching this child collection for `context` on the pool; `get_records` picks it up."""
        if self.name in self.run.unavailable:
            return
        pager = self.run.pager
        self._prefetched.start(pager, context, lambda: list(self.reader.records(pager, self.query(context))))

    def _with_child_prefetch(self, records: Iterable[Record]) -> Iterable[Record]:
        children = [c for c in self.child_streams if c.selected and isinstance(c, OpenProjectStream)]
        if not children or self.run.pager.concurrency == 1:
            return records

        def start(record: Record) -> None:
            context = self.get_child_context(record, None)
            if context is not None:
                for child in children:
                    child.prefetch(context)

        return with_prefetch(records, start, depth=2 * self.run.pager.concurrency)
