"""Every override of a private singer-sdk method, in one place, each with the reason it exists.

Private methods can change in any SDK release. `PRIVATE_OVERRIDES` lists each one with the signature this code
was written against; tests/test_sdk_hooks.py fails loudly when an SDK upgrade renames or re-signs any of them,
instead of the override silently no longer being called.
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream, Tap
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib import RecordMessage

from tap_openproject.errors import ConfigError
from tap_openproject.interrupt import INTERRUPT

if t.TYPE_CHECKING:
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
    (Tap, "_validate_config", "(self, *, raise_errors: 'bool' = True) -> 'list[str]'"),
    (Tap, "_handle_termination", "(self, signum: 'int', frame: 'FrameType | None') -> 'None'"),
)


class StreamHooks(Stream):
    """Mixed into every stream of the tap."""

    #: The stream's bookmark rules (incremental streams, once the run has started), see bookmarks.py.
    bookmarks: BookmarkPolicy | None = None
    _schema_written = False
    _deselects: bool | None = None

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

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[RecordMessage, None, None]:
        """Why: the SDK pops deselected properties (a schema walk per record) even when the catalog deselects
        none, and conforms types the flattening already guarantees (TYPE_CONFORMANCE_LEVEL). Same messages,
        without that per-record work. And, with conformance off, nothing else would keep a column the catalog's
        schema left out from being sent: CatalogColumns does (only when the catalog differs from discovery)."""
        if self._deselects is None:
            self._deselects = any(not selected for breadcrumb, selected in self.mask.items() if breadcrumb)
        if self._deselects:
            pop_deselected_record_properties(record, self.effective_schema, self.mask)
        columns = self.catalog_columns
        if columns.filters:
            record = columns.outgoing(record)
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
