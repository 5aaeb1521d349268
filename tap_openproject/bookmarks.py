"""The bookmark policy of incremental streams: where a run starts, which versions it has delivered already, how the
bookmark advances as records are written, and how often STATE is written.

- The bookmark never moves past the sync's start (the cap): a save that commits during the run with an earlier
  updatedAt than records already read must still be found by the next run.
- Lookback: a save can commit after its updatedAt (a long transaction: Rails stamps updated_at when the save
  starts, other readers see the row only at commit). By then a run may have read past that time. So each run reads
  again from `lookback_seconds` before the bookmark (whole seconds: the server's filter compares those).
- The state remembers which versions (id, updatedAt, lockVersion) were delivered within that window (the
  delivered window), and the read side drops exactly those: a version delivered once is never delivered again, a
  new version (a late commit, an edit) always is. The window also holds records delivered past the cap, so an
  unchanged one does not come again. Above MAX_DELIVERED entries the oldest are forgotten: the next run may repeat
  those (duplicates, never gaps) and STATE stays bounded.
"""

from __future__ import annotations

import datetime as dt
import heapq
import typing as t
from dataclasses import dataclass

from tap_openproject.timeutil import Clock, format_datetime, parse_datetime, second

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Record = dict[str, t.Any]

#: State key: versions delivered with updatedAt at or after the lookback window's start (id -> version).
DELIVERED = "delivered_in_lookback"
#: The state key of earlier releases (versions of the bookmark's second only), read once and folded in.
LEGACY_BOUNDARY = "delivered_in_bookmark_second"
#: At most this many remembered versions (about 40 bytes each in STATE); beyond it the oldest are forgotten.
MAX_DELIVERED = 10_000


def version_of(record: Record, key: str) -> str:
    """What makes a delivered record the same version: its timestamp and, where it has one, its lockVersion."""
    return f"{record[key]}|{record.get('lockVersion', '')}"


def _timestamp(version: str) -> str:
    return version.partition("|")[0]


def window_start(bookmark: str, lookback_seconds: float) -> str:
    """The whole second a run starts reading at, `lookback_seconds` before `bookmark` (YYYY-MM-DDTHH:MM:SS)."""
    moment = dt.datetime.fromisoformat(second(bookmark)) - dt.timedelta(seconds=lookback_seconds)
    return moment.isoformat(timespec="seconds")  # naive: YYYY-MM-DDTHH:MM:SS (and a third of strftime's cost)


def delivered_versions(state: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The versions a previous run (or an earlier part of this one) recorded as delivered."""
    legacy = (state.get(LEGACY_BOUNDARY) or {}).get("records", {})
    return {**legacy, **(state.get(DELIVERED) or {})}


class DeliveredWindow:
    """The delivered window of one state: the dict in the state (id -> version), plus a heap by timestamp that
    finds the entries to expire without scanning them all."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        versions = delivered_versions(state)
        state.pop(LEGACY_BOUNDARY, None)
        self.versions: dict[str, str] = state.setdefault(DELIVERED, {})
        self.versions.update(versions)
        self._heap = [(_timestamp(version), record_id) for record_id, version in self.versions.items()]
        heapq.heapify(self._heap)

    def add(self, record_id: str, version: str) -> None:
        """Remember a delivered version (it replaces the record's older one)."""
        self.versions[record_id] = version
        heapq.heappush(self._heap, (_timestamp(version), record_id))

    def expire(self, start: str) -> None:
        """Forget versions older than the window's start second, and the oldest beyond MAX_DELIVERED."""
        heap, versions = self._heap, self.versions
        while heap and (second(heap[0][0]) < start or len(versions) > MAX_DELIVERED):
            stamp, record_id = heapq.heappop(heap)
            current = versions.get(record_id)
            if current is not None and _timestamp(current) == stamp:  # else a newer version replaced it
                del versions[record_id]


@dataclass
class Boundary:
    """Which versions were read within the latest second seen (the read side, within one run): windows and
    keyset pages overlap by one second, and those records must come once. It keeps the records of that second
    (by id) and compares versions only when an id comes again within it, which most never do."""

    second: str
    records: dict[t.Any, Record]

    def seen(self, record: Record, key: str) -> bool:
        """True if this version was read already; otherwise remember it (when in the latest second)."""
        at_second = second(record[key] or "")
        if at_second == self.second:
            earlier = self.records.get(record["id"])
            if earlier is not None and version_of(earlier, key) == version_of(record, key):
                return True
            self.records[record["id"]] = record
        elif at_second > self.second:
            self.second, self.records = at_second, {record["id"]: record}
        return False


class BookmarkPolicy:
    """One incremental stream's bookmark rules."""

    def __init__(self, key: str, cap: str | None, lookback_seconds: float = 0.0) -> None:
        self.key = key
        self.cap = cap
        self.lookback_seconds = lookback_seconds
        self._windows: dict[int, DeliveredWindow] = {}
        self._start_of: tuple[str, str] = ("", "")  # (bookmark second, its window start), the last one computed

    def since(self, start: dt.datetime | None, state: t.Mapping[str, t.Any], start_date: str | None) -> str | None:
        """Where this run reads from: lookback_seconds before the bookmark (`start` is the SDK's starting value,
        the later of bookmark and start_date), never before start_date."""
        if start is None:
            return None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        if state.get("replication_key_value"):
            start = start - dt.timedelta(seconds=self.lookback_seconds)
            if start_date:
                start = max(start, parse_datetime(start_date))
        return format_datetime(start)

    def fresh(self, state: t.Mapping[str, t.Any]) -> t.Callable[[Iterable[Record]], Iterator[Record]]:
        """A filter that drops versions already delivered: those the state remembers, and those read twice in this
        run (tracked on the read side, because records are read ahead of the SDK and the state only follows what
        was delivered)."""
        delivered = delivered_versions(state)
        overlap = Boundary("", {})
        key = self.key

        def fresh(records: Iterable[Record]) -> Iterator[Record]:
            for record in records:
                if delivered and delivered.get(str(record["id"])) == version_of(record, key):
                    continue
                if not overlap.seen(record, key):
                    yield record

        return fresh

    def advance(self, state: dict[str, t.Any], record: Record) -> None:
        """After a record was written: advance the bookmark (never backwards, never past the cap), remember the
        version as delivered, and forget versions that fell out of the window."""
        key = self.key
        value = record.get(key)
        if value is None:
            return
        previous = state.get("replication_key_value")
        bookmark = min(value, self.cap) if self.cap is not None else value
        if previous is None or bookmark > previous:
            state["replication_key"], state["replication_key_value"] = key, bookmark
            previous = bookmark
        window = self._window(state)
        window.add(str(record["id"]), version_of(record, key))
        window.expire(self._window_start(previous))

    def _window(self, state: dict[str, t.Any]) -> DeliveredWindow:
        window = self._windows.get(id(state))
        if window is None or state.get(DELIVERED) is not window.versions:
            window = self._windows[id(state)] = DeliveredWindow(state)
        return window

    def _window_start(self, bookmark: str) -> str:
        """window_start(bookmark, lookback_seconds), remembered for the last second (once per record)."""
        at_second = second(bookmark)
        if self._start_of[0] != at_second:
            self._start_of = (at_second, window_start(at_second, self.lookback_seconds))
        return self._start_of[1]


class StateCadence:
    """When STATE is written during a run (shared by all streams): after every `records` records written, and at
    the latest `interval` seconds after the first record no STATE covers yet (0: no time rule). The SDK alone
    writes STATE every 10,000 records or at a stream's end, so a killed run would re-read up to a whole stream."""

    def __init__(self, *, records: int, interval: float, clock: Clock) -> None:
        self.records = records
        self.interval = interval
        self.clock = clock
        self._pending = 0
        self._since = 0.0

    def written(self) -> None:
        """A record was written."""
        if not self._pending:
            self._since = self.clock.monotonic()
        self._pending += 1

    def due(self) -> bool:
        """True when a STATE should be written now."""
        if not self._pending:
            return False
        if self._pending >= self.records:
            return True
        return bool(self.interval) and self.clock.monotonic() - self._since >= self.interval

    def reset(self) -> None:
        """A STATE covering every record written so far was written."""
        self._pending = 0
