"""The bookmark policy of incremental streams: where a run starts, which versions it has delivered already, and
how the bookmark advances as records are written.

- The bookmark never moves past the sync's start (the cap): a save that commits during the run with an earlier
  updatedAt than records already read must still be found by the next run. Records after the cap come again next
  run: duplicates, never gaps.
- The filter is inclusive (`<>d`) and compares whole seconds, so the bookmark's second is read again. The state
  remembers which versions (id, updatedAt, lockVersion) of that second were delivered (the boundary), and the
  read side drops exactly those, within a run (overlapping pages and windows) and across runs.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_openproject.timeutil import second

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Record = dict[str, t.Any]

#: State key holding which records were delivered within the bookmark's second.
BOUNDARY = "delivered_in_bookmark_second"
#: Above this many records sharing one second, the boundary is not kept: the next run may repeat some of them
#: (duplicates, never gaps), and STATE stays small.
MAX_BOUNDARY = 10_000


def version_of(record: Record, key: str) -> str:
    """What makes a delivered record the same version: its timestamp and, where it has one, its lockVersion."""
    return f"{record[key]}|{record.get('lockVersion', '')}"


@dataclass
class Boundary:
    """Which versions were delivered within the latest second seen (read side)."""

    second: str
    records: dict[str, str]

    @classmethod
    def from_state(cls, state: t.Mapping[str, t.Any]) -> Boundary:
        """The boundary a previous run (or an earlier part of this one) left in the state."""
        saved = state.get(BOUNDARY) or {}
        return cls(saved.get("second", ""), dict(saved.get("records", {})))

    def seen(self, at_second: str, record_id: str, version: str) -> bool:
        """True if this version was delivered already; otherwise remember it (when in the latest second)."""
        if at_second == self.second:
            if self.records.get(record_id) == version:
                return True
            self.records[record_id] = version
        elif at_second > self.second:
            self.second, self.records = at_second, {record_id: version}
        return False


class BookmarkPolicy:
    """One incremental stream's bookmark rules."""

    def __init__(self, key: str, cap: str | None) -> None:
        self.key = key
        self.cap = cap

    def fresh(self, state: t.Mapping[str, t.Any]) -> t.Callable[[Iterable[Record]], Iterator[Record]]:
        """A filter that drops versions already delivered in the latest second (tracked on the read side, not in
        the state, because records are read ahead of the SDK and the state only follows what was delivered)."""
        delivered = Boundary.from_state(state)
        key = self.key

        def fresh(records: Iterable[Record]) -> Iterator[Record]:
            for record in records:
                if not delivered.seen(second(record[key] or ""), str(record["id"]), version_of(record, key)):
                    yield record

        return fresh

    def advance(self, state: dict[str, t.Any], record: Record) -> None:
        """After a record was written: advance the bookmark (never backwards, never past the cap) and remember
        which records of the bookmark's second were delivered."""
        value = record.get(self.key)
        if value is None:
            return
        previous = state.get("replication_key_value")
        if self.cap is not None and value > self.cap:
            if previous is None or previous < self.cap:
                state["replication_key"], state["replication_key_value"] = self.key, self.cap
                state.pop(BOUNDARY, None)
            return
        if previous is None or value >= previous:
            state["replication_key"], state["replication_key_value"] = self.key, value
        at_second = second(value)
        boundary = state.get(BOUNDARY)
        if boundary is None or boundary.get("second", "") < at_second:
            boundary = state[BOUNDARY] = {"second": at_second, "records": {}}
        if boundary["second"] == at_second and len(boundary["records"]) < MAX_BOUNDARY:
            boundary["records"][str(record["id"])] = version_of(record, self.key)
