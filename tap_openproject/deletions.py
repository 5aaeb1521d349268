"""Deletion detection for work packages: sweep the ids that exist, compare with the ids known from earlier runs.

OpenProject deletes for good (no tombstones, no changes feed), so a vanished work package is only visible as an id
that is no longer listed. With `detect_deletions`, every work_packages run ends with:

1. a sweep: every id in scope (project_ids), sorted by id, read as cheaply as the server allows
   (`select=total,elements/id` at the largest page size; plain pages if the server answers 400 to `select`);
2. candidates: ids known from earlier runs or delivered in this one, but absent from the sweep. An offset sweep
   over a collection that changes while it is read can skip an id (a deletion before the cursor shifts the rows),
   so a candidate is only an absence to confirm;
3. confirmation: the candidates are asked for by id (`id` `=` filter, in batches). Found in scope: the sweep
   missed it, it stays known. Found outside the configured projects: it moved out of scope, it is forgotten (not
   reported: it was not deleted). Not found at all: deleted;
4. one RECORD `{"id": N, "_sdc_deleted_at": "<now, UTC>"}` per deleted id, in the work_packages stream.

State, in the work_packages bookmark entry under `deletions`:

    {"known_ids": "1-57,59-60,62", "swept_at": "2026-01-01T00:00:00.000Z", "pending": [61, 58]}

`known_ids` are id ranges (a few bytes for 100,000 mostly consecutive ids). `pending` holds deletions confirmed
but not yet emitted (descending; one is removed after each tombstone is written), so a run stopped half-way
through reporting resumes with the rest and reports none twice. A first run (no `known_ids`) only sets the
baseline: the sweep plus the ids it delivered, so a work package delivered and deleted in the same run is
reported by the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

from tap_openproject.errors import HTTPStatusError, SyncError
from tap_openproject.timeutil import format_datetime

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_openproject.paging import Pager, Query

logger = logging.getLogger("tap-openproject")

#: Bookmark-entry key of the deletion state.
STATE_KEY = "deletions"
#: The tombstone column (the Singer convention targets know).
DELETED_AT = "_sdc_deleted_at"
#: Ids per sweep page; the server silently caps it at its apiv3_max_page_size (1000 by default).
SWEEP_PAGE_SIZE = 10_000
#: Ids per confirmation request (`id` `=` filter): keeps the URL short.
CONFIRM_BATCH = 100
_SELECT = "total,elements/id"


def encode_ids(ids: Iterable[int]) -> str:
    """Sorted ids as ranges: `1-5,7,9-12`."""
    parts: list[str] = []
    ordered = sorted(set(ids))
    start = previous = None
    for ident in ordered:
        if previous is not None and ident == previous + 1:
            previous = ident
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = ident
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def decode_ids(text: str) -> set[int]:
    """The ids of `encode_ids` output. Raises ValueError for anything else."""
    ids: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if first < 1 or last < first:
            raise ValueError(part)
        ids.update(range(first, last + 1))
    return ids


def tombstone(ident: int, deleted_at: str) -> dict[str, t.Any]:
    """The record that reports a deleted work package."""
    return {"id": ident, DELETED_AT: deleted_at}


class DeletionDetector:
    """One run's deletion detection for the work_packages stream (see the module docstring)."""

    def __init__(self, pager: Pager, query: Query) -> None:
        self.pager = pager
        self.query = query  # the work_packages collection, with its project scope
        self.select = True  # until the server answers 400 to it

    def tombstones(self, state: dict[str, t.Any], delivered: set[int]) -> Iterator[dict[str, t.Any]]:
        """Sweep, confirm, and yield one tombstone per deleted work package, keeping `state` current."""
        entry: dict[str, t.Any] = state.setdefault(STATE_KEY, {})
        yield from self._emit(entry)  # left over by a run that stopped while reporting
        known = self._known(entry)
        swept = self._ids_in_scope()
        deleted: set[int] = set()
        left_scope: set[int] = set()
        if known is None:
            logger.info("work_packages: deletion baseline of %d ids (reported from the next run on)", len(swept))
        else:
            candidates = (known | delivered) - swept
            if candidates:
                deleted, left_scope = self._confirm(candidates)
            logger.info(
                "work_packages: %d ids swept, %d known before; %d deleted, %d moved out of the project scope",
                len(swept),
                len(known),
                len(deleted),
                len(left_scope),
            )
        now = format_datetime(dt.datetime.now(dt.timezone.utc))
        entry["known_ids"] = encode_ids(((known or set()) | delivered | swept) - deleted - left_scope)
        entry["swept_at"] = now
        entry["pending"] = sorted(deleted, reverse=True)
        yield from self._emit(entry, now)

    # -- steps ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _known(entry: dict[str, t.Any]) -> set[int] | None:
        text = entry.get("known_ids")
        if text is None:
            return None
        try:
            return decode_ids(str(text))
        except ValueError:
            logger.warning("work_packages: unreadable deletion state; starting a new baseline (nothing reported)")
            return None

    @staticmethod
    def _emit(entry: dict[str, t.Any], deleted_at: str | None = None) -> Iterator[dict[str, t.Any]]:
        """Yield the pending tombstones, lowest id first; each leaves `pending` once the SDK has written it."""
        pending: list[int] = entry.get("pending") or []
        when = deleted_at or entry.get("swept_at") or format_datetime(dt.datetime.now(dt.timezone.utc))
        while pending:
            yield tombstone(pending[-1], when)
            pending.pop()
        entry.pop("pending", None)

    def _ids_in_scope(self) -> set[int]:
        """Every work package id in scope now (open and closed), as one sweep sees it."""
        return self._ids(self.query.filters)

    def _confirm(self, candidates: set[int]) -> tuple[set[int], set[int]]:
        """(deleted, moved out of scope) among ids the sweep did not see; the rest exist in scope."""
        scope = self.query.filters
        remaining = set(candidates)
        if scope:
            remaining -= self._existing(remaining, scope)
            left_scope = self._existing(remaining, [])
            return remaining - left_scope, left_scope
        return remaining - self._existing(remaining, []), set()

    def _existing(self, ids: set[int], scope: list[dict[str, t.Any]]) -> set[int]:
        found: set[int] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), CONFIRM_BATCH):
            batch = [str(i) for i in ordered[start : start + CONFIRM_BATCH]]
            found |= self._ids([*scope, {"id": {"operator": "=", "values": batch}}])
        return found & ids

    def _ids(self, filters: list[dict[str, t.Any]]) -> set[int]:
        """The ids of every work package matching `filters`, page by page in id order."""
        ids: set[int] = set()
        offset, page_size = 1, 0
        while True:
            size = SWEEP_PAGE_SIZE if self.select else self.pager.page_size
            params = self.query.params(size, filters=filters, offset=offset, sort_by=[["id", "asc"]])
            if self.select:
                params["select"] = _SELECT
            try:
                page = self.pager.read(self.query.label, self.query.path, params)
            except HTTPStatusError as exc:
                if exc.status == 400 and self.select and offset == 1:
                    logger.warning("work_packages: the server rejects select (%s); sweeping full pages", exc)
                    self.select = False
                    continue
                raise SyncError(f"work_packages deletion sweep: {exc}") from None
            ids.update(e["id"] for e in page.elements if isinstance(e.get("id"), int))
            # With select, the answer may carry neither pageSize nor offset: a full first page tells the size.
            page_size = page_size or page.page_size or len(page.elements)
            if page.sized(page_size).is_last:
                return ids
            offset += 1
