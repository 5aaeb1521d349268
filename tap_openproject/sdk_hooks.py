"""Every override of a private singer-sdk method, in one place, each with the reason it exists.

Private methods can change in any SDK release. `PRIVATE_OVERRIDES` lists each one with the signature this code
was written against; tests/test_sdk_hooks.py fails loudly when an SDK upgrade renames or re-signs any of them,
instead of the override silently no longer being called.
"""

from __future__ import annotations

import copy
import typing as t

from singer_sdk import Stream, Tap
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage

from tap_openproject.errors import ConfigError
from tap_openproject.interrupt import INTERRUPT
from tap_openproject.timeutil import ExtractionTime

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from singer_sdk.helpers.types import Context

    from tap_openproject.bookmarks import BookmarkPolicy, StateCadence
    from tap_openproject.columns import CatalogColumns
    from tap_openproject.observability import RunStats

#: (SDK class, private method, the signature these overrides were written against).
PRIVATE_OVERRIDES: tuple[tuple[type, str, str], ...] = (
    (
        Stream,
        "_increment_stream_state",
        "(self, latest_record: 'types.Record', *, context: 'types.Context | None' = None) -> 'None'",
    ),
    (
        Stream,
        "_generate_record_messages",
        "(self, record: 'types.Record') -> 't.Generator[singer.RecordMessage, None, None]'",
    ),
    (Stream, "_write_schema_message", "(self) -> 'None'"),
    (Stream, "_write_record_message", "(self, record: 'types.Record') -> 'None'"),
    (Stream, "_write_state_message", "(self) -> 'None'"),
    (
        Stream,
        "_sync_records",
        "(self, context: 'types.Context | None' = None, *, write_messages: 'bool' = True) -> "
        "'t.Generator[dict, t.Any, t.Any]'",
    ),
    (Tap, "_validate_config", "(self, *, raise_errors: 'bool' = True) -> 'list[str]'"),
    (Tap, "_handle_termination", "(self, signum: 'int', frame: 'FrameType | None') -> 'None'"),
)

#: Private SDK methods the overrides call (their own loop does what the SDK's does): checked the same way.
PRIVATE_CALLS: tuple[tuple[type, str, str], ...] = (
    (Stream, "_get_state_partition_context", "(self, context: 'types.Context | None') -> 'types.Context | None'"),
    (Stream, "_write_starting_replication_value", "(self, context: 'types.Context | None') -> 'None'"),
    (
        Stream,
        "_process_record",
        "(self, record: 'types.Record', child_context: 'types.Context | None' = None, partition_context: "
        "'types.Context | None' = None) -> 'None'",
    ),
    (Stream, "_finalize_state", "(self, state: 'dict | None' = None) -> 'None'"),
)


class StreamHooks(Stream):
    """Mixed into every stream of the tap."""

    #: The stream's bookmark rules (incremental streams, once the run has started), see bookmarks.py.
    bookmarks: BookmarkPolicy | None = None
    _schema_written = False
    _deselects: bool | None = None
    _lean: bool | None = None

    @property
    def run_stats(self) -> RunStats:
        """The run's statistics (the stream base provides them)."""
        raise NotImplementedError

    @property
    def state_cadence(self) -> StateCadence:
        """When the run writes STATE (the stream base provides it)."""
        raise NotImplementedError

    @property
    def catalog_columns(self) -> CatalogColumns:
        """What of the stream's records the catalog lets out (the stream base provides it)."""
        raise NotImplementedError

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        """Why: the SDK advances a sorted stream's bookmark to every record's value. Ours must never pass the
        sync's start, never move backwards, and remember which versions were delivered within the lookback window
        (BookmarkPolicy.advance). Then, as the record is written and counted in the state, STATE if it is due
        (the SDK's own cadence is every 10,000 records)."""
        if self.bookmarks is not None and self.replication_key:
            self.bookmarks.advance(self.get_context_state(context), latest_record)
        if self.state_cadence.due():
            self.write_state_now()

    def write_state_now(self) -> None:
        """A STATE message with the whole state as it stands: it covers every record written so far."""
        self.state_manager.is_flushed = False
        super()._write_state_message()
        self.state_cadence.reset()

    def _write_state_message(self) -> None:
        """Why: the SDK writes the whole state at the end of every child context, i.e. once per parent record
        (2,000 STATE messages for 2,000 work packages with activities). A child's STATE waits for the cadence
        instead: the next STATE of the run covers its records (the tap writes the final state at the end)."""
        if self.parent_stream_type is None:
            pending = not self.state_manager.is_flushed
            super()._write_state_message()
            if pending:
                self.state_cadence.reset()
        elif self.state_cadence.due():
            self.write_state_now()

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> t.Generator[dict, t.Any, t.Any]:
        """Why: the SDK's loop spends more CPU per record than decoding and flattening it together (a message
        object, a dict copy and a stream-map pass per record, child bookkeeping for streams without children;
        bench: record_path). Where no stream map, flattening or dry-run limit applies, this loop does the same
        steps in the same order (post_process, children, RECORD, state, counts, STATE) and writes each record as
        one encoded line; otherwise the SDK's own loop runs."""
        if not (write_messages and self.takes_lean_path()):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        current = context or None
        partition = self._get_state_partition_context(current)
        child_context = None if current is None else copy.copy(current)
        children = any(c.selected or c.has_selected_descendents for c in self.child_streams)
        selected, frequency, written = self.selected, self.STATE_MSG_FREQUENCY, 0
        write = self.record_writer()
        counter, timer = self.get_record_counter(), self.get_sync_timer()
        with counter, timer:
            counter.with_context(context or {})
            timer.with_context(context or {})
            self._write_starting_replication_value(current)
            for raw in self.get_records(current):
                record = self.post_process(t.cast("dict[str, t.Any]", raw), current)  # no (record, context) tuples
                if record is None:
                    continue
                if children:
                    self._process_record(record, child_context=child_context, partition_context=partition)
                elif partition:
                    for key, value in partition.items():
                        record.setdefault(key, value)
                if selected:
                    write(record)
                    self._increment_stream_state(record, context=current)
                    written += 1
                    if written % frequency == 0:
                        self._write_state_message()
                    counter.increment()
                    yield record
            if current == partition:
                self._finalize_state(self.get_context_state(current))
        if not context:
            self._finalize_state(self.stream_state)
        self._write_state_message()

    def takes_lean_path(self) -> bool:
        """Whether records go out exactly as built: one plain stream map, no flattening, no dry-run limit."""
        if self._lean is None:
            maps = self.stream_maps
            self._lean = (
                len(maps) == 1
                and type(maps[0]) is SameRecordTransform
                and maps[0].stream_alias == self.name
                and not maps[0].flattening_enabled
                and self.ABORT_AT_RECORD_COUNT is None
                and callable(getattr(self._tap.message_writer, "write_line", None))
            )
        return self._lean

    def record_writer(self) -> Callable[[dict[str, t.Any]], None]:
        """Write one record as a RECORD line, exactly as the SDK's writer would encode its message."""
        write_line = self._tap.message_writer.write_line  # type: ignore[attr-defined]
        name, version, state_manager = self.name, self._stream_version, self.state_manager
        count, written = self.run_stats.record, self.state_cadence.written
        extracted = ExtractionTime()

        def write(record: dict[str, t.Any]) -> None:
            message: dict[str, t.Any] = {"type": "RECORD", "stream": name, "record": self.outgoing(record)}
            if version is not None:
                message["version"] = version
            message["time_extracted"] = extracted()
            write_line(message)
            state_manager.is_flushed = False
            count(name)
            written()

        return write

    def outgoing(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record as the catalog lets it out: deselected properties popped (only if the catalog deselects
        any: a schema walk per record otherwise), columns its schema left out dropped (CatalogColumns)."""
        if self._deselects is None:
            self._deselects = any(not selected for breadcrumb, selected in self.mask.items() if breadcrumb)
        if self._deselects:
            pop_deselected_record_properties(record, self.effective_schema, self.mask)
        columns = self.catalog_columns
        return columns.outgoing(record) if columns.filters else record

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[RecordMessage, None, None]:
        """Why: the SDK pops deselected properties (a schema walk per record) even when the catalog deselects
        none, and conforms types the flattening already guarantees (TYPE_CONFORMANCE_LEVEL). Same messages,
        without that per-record work. And, with conformance off, nothing else would keep a column the catalog's
        schema left out from being sent: CatalogColumns does (only when the catalog differs from discovery)."""
        record = self.outgoing(record)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def _write_schema_message(self) -> None:
        """Why: the SDK writes a child's SCHEMA again for every parent record; once per run is enough."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """Why: count each written record (progress lines, summary, metrics, the STATE cadence) where it is
        written."""
        super()._write_record_message(record)
        self.run_stats.record(self.name)
        self.state_cadence.written()


class TapHooks(Tap):
    """Mixed into the Tap."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Why: the SDK logs every jsonschema message, which can echo a bad value (a secret of the wrong type).
        Settings are validated before this (settings.resolve); this backstop reports a count, never a value."""
        errors = super()._validate_config(raise_errors=False)
        if errors and raise_errors:
            raise ConfigError(f"invalid configuration ({len(errors)} problem(s)); see the README's settings table")
        return errors

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """Why: the SDK's handler writes STATE from inside the signal handler (which can tear a message in half)
        and exits 0, so a killed run looks successful. Ours only takes note (see interrupt.py); the run stops at
        the next safe point, writes the last state on its way out, and the CLI exits 128 + signal."""
        INTERRUPT.handle(signum)
