"""The state (`--state`): its shape, each stream's bookmark, and bookmarks ahead of the sync's start.

The SDK's shape is {"bookmarks": {stream: {"replication_key": ..., "replication_key_value": ..., ...}}}. Anything
the SDK or the tap would later trip over (a list where an object belongs, a bookmark that is not a time, a damaged
boundary block) is refused here with one line naming the file and the place in it; what the SDK only rewrites at
the start of a sync (progress markers, signposts) is dropped; bookmark times are put in the canonical form that the
bookmark rules compare as text.
"""

from __future__ import annotations

import datetime as dt
import difflib
import typing as t
from dataclasses import dataclass, field

from tap_openproject.bookmarks import DELIVERED, LEGACY_BOUNDARY
from tap_openproject.deletions import STATE_KEY as DELETIONS
from tap_openproject.errors import ConfigError
from tap_openproject.inputs.documents import STATE_FIX, Document, kind_of
from tap_openproject.timeutil import format_datetime, parse_datetime

#: A bookmark up to this far ahead of the sync's start is clock skew between machines: it is moved back to the
#: sync's start (with a warning). Further ahead, the state cannot come from a run against this server: exit 2.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
#: Written by the SDK during a sync and rewritten (or dropped) at the start of the next one.
SDK_TRANSIENT_KEYS = ("progress_markers", "replication_key_signpost", "starting_replication_value")


class Declared(t.NamedTuple):
    """What the tap declares about one stream: its replication key (None: full table) and its parent stream."""

    key: str | None
    parent: str | None


def declarations(stream_types: t.Iterable[type]) -> dict[str, Declared]:
    """The tap's streams by name, from their classes (a full-table stream's `replication_key` is the SDK's
    property, not a string)."""
    declared = {}
    for stream_type in stream_types:
        key = getattr(stream_type, "replication_key", None)
        parent = getattr(stream_type, "parent_stream_type", None)
        declared[str(stream_type.name)] = Declared(  # type: ignore[attr-defined]
            key if isinstance(key, str) else None, str(parent.name) if parent else None
        )
    return declared


@dataclass
class StateCheck:
    """A state as the SDK gets it, and what to warn about."""

    state: dict[str, t.Any]
    warnings: list[str] = field(default_factory=list)
    #: Worth a line at INFO: how the file was read.
    notes: list[str] = field(default_factory=list)


def check_state(document: Document, declared: t.Mapping[str, Declared]) -> StateCheck:
    """The state in the SDK's shape, or a ConfigError saying what is wrong with it and what to do."""
    source = document.source
    value, unwrapped = unwrap(document.value)
    if not isinstance(value, dict):
        raise ConfigError(
            f'{source}: expected a JSON object like {{"bookmarks": {{...}}}}, found {kind_of(value)}; {STATE_FIX}'
        )
    check = StateCheck({})
    if unwrapped:
        check.notes.append(f"{source}: read the bookmarks inside {unwrapped}")
    if "bookmarks" not in value:
        others = sorted(set(value) - {"currently_syncing"})
        if others:
            raise ConfigError(
                f'{source}: no "bookmarks" in it (its keys: {", ".join(others)}), so it is not a Singer '
                f"state; pass the value of the last STATE message of a run, or {{}} to start over"
            )
        return check
    bookmarks = value["bookmarks"]
    if not isinstance(bookmarks, dict):
        raise ConfigError(
            f'{source}: "bookmarks" must be an object of stream names, found {kind_of(bookmarks)}; {STATE_FIX}'
        )
    checked: dict[str, t.Any] = {}
    for name, entry in bookmarks.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: bookmarks.{name} must be an object, found {kind_of(entry)}; {STATE_FIX}")
        known = name in declared
        checked[name] = check_stream_state(entry, name, declared[name].key, source) if known else sdk_safe(entry)
    check.state = {"bookmarks": checked}
    unknown = [name for name in checked if name not in declared]
    if unknown:
        check.warnings.append(
            f"{source}: bookmarks for streams this tap does not have are ignored: {names_with_hints(unknown, declared)}"
        )
    return check


def unwrap(value: t.Any) -> tuple[t.Any, str]:
    """The state inside Meltano's {"singer_state": ...} or a whole STATE message, and which wrapper it was in."""
    wrappers: list[str] = []
    for _ in range(2):  # a STATE message may carry Meltano's wrapper, or the other way round
        if not isinstance(value, dict) or "bookmarks" in value:
            break
        if value.get("type") == "STATE" and "value" in value:
            value = value["value"]
            wrappers.append("a STATE message")
        elif set(value) == {"singer_state"}:
            value = value["singer_state"]
            wrappers.append('Meltano\'s "singer_state"')
        else:
            break
    return value, " inside ".join(reversed(wrappers))


def check_stream_state(entry: dict[str, t.Any], name: str, key: str | None, source: str) -> dict[str, t.Any]:
    """One incremental or full-table stream's state, checked; bookmark times in canonical form."""
    where = f"{source}: bookmarks.{name}"
    entry = {k: v for k, v in entry.items() if k not in SDK_TRANSIENT_KEYS}
    # This tap never partitions state (children keep one state per stream); the SDK would sync a top-level
    # stream once per partition it finds, so a foreign `partitions` list is dropped, not followed.
    entry.pop("partitions", None)
    value = entry.get("replication_key_value")
    if key is not None and value not in (None, ""):
        entry["replication_key_value"] = bookmark_time(value, where)
        state_key = entry.get("replication_key")
        if state_key != key:
            found = "no replication_key" if state_key is None else f"replication_key {state_key!r}"
            raise ConfigError(
                f'{where} has {found}, but this tap bookmarks {name} by {key}: set "replication_key": '
                f'"{key}" if the value is a bookmark of {key}, or remove the bookmark (the stream is read in '
                "full)"
            )
    if LEGACY_BOUNDARY in entry:
        check_boundary(entry[LEGACY_BOUNDARY], f"{where}.{LEGACY_BOUNDARY}")
    if DELIVERED in entry:
        check_delivered(entry[DELIVERED], f"{where}.{DELIVERED}")
    if DELETIONS in entry:
        check_deletions(entry[DELETIONS], f"{where}.{DELETIONS}")
    return entry


def sdk_safe(entry: dict[str, t.Any]) -> dict[str, t.Any]:
    """Another stream's state, kept, but without what the SDK would trip over when it resets progress markers at the
    start of a sync (it does so for every entry, known or not): transient keys go, unreadable partitions too."""
    entry = {k: v for k, v in entry.items() if k not in SDK_TRANSIENT_KEYS}
    partitions = entry.get("partitions")
    if isinstance(partitions, list) and all(isinstance(p, dict) for p in partitions):
        entry["partitions"] = [{k: v for k, v in p.items() if k not in SDK_TRANSIENT_KEYS} for p in partitions]
    else:
        entry.pop("partitions", None)
    return entry


def bookmark_time(value: t.Any, where: str) -> str:
    """A bookmark as a canonical timestamp (date-only and offset forms are accepted), or a ConfigError."""
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        return format_datetime(parse_datetime(value))
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(
            f"{where}.replication_key_value is not a timestamp ({shown}); set an ISO 8601 time such "
            "as 2024-07-01T00:00:00Z, or remove the stream's bookmark to read it in full"
        ) from None


def check_boundary(block: t.Any, where: str) -> None:
    """The boundary block (which records of the bookmark's second were delivered) as bookmarks.py reads it."""
    problem = None
    if not isinstance(block, dict):
        problem = f"must be an object, found {kind_of(block)}"
    elif not isinstance(block.get("second", ""), str):
        problem = f'"second" must be a string, found {kind_of(block["second"])}'
    elif not isinstance(block.get("records", {}), dict):
        problem = f'"records" must be an object, found {kind_of(block["records"])}'
    elif not all(isinstance(v, str) for v in block.get("records", {}).values()):
        problem = '"records" must map record ids to strings'
    if problem:
        raise ConfigError(
            f"{where} {problem}; remove it: the next run delivers the records of the bookmark's second "
            "again (duplicates, never gaps)"
        )


def check_delivered(block: t.Any, where: str) -> None:
    """The versions delivered within the lookback window (bookmarks.py): record ids to "updatedAt|lockVersion"."""
    if not isinstance(block, dict) or not all(isinstance(v, str) and "|" in v for v in block.values()):
        problem = "must map record ids to versions"
        if not isinstance(block, dict):
            problem = f"must be an object, found {kind_of(block)}"
        raise ConfigError(
            f"{where} {problem}; remove it: the next run delivers the records of the lookback window again "
            "(duplicates, never gaps)"
        )


def check_deletions(block: t.Any, where: str) -> None:
    """The deletion-detection state (deletions.py) as it reads it: an object with a list of pending ids."""
    pending = block.get("pending") if isinstance(block, dict) else None
    valid_pending = pending is None or (
        isinstance(pending, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in pending)
    )
    if not isinstance(block, dict) or not valid_pending:
        raise ConfigError(
            f"{where} is damaged; remove it: detect_deletions then starts a new baseline (deletions "
            "since the last run are not reported)"
        )


def names_with_hints(names: t.Iterable[str], known: t.Iterable[str]) -> str:
    """Stream names, each with the tap's closest name when there is one: `work_package (did you mean ...?)`."""
    known = list(known)
    shown = []
    for name in names:
        close = difflib.get_close_matches(str(name), known, n=1)
        shown.append(f"{name} (did you mean {close[0]}?)" if close else str(name))
    return ", ".join(shown)


def hold_back_future_bookmarks(
    state: t.Mapping[str, t.Any],
    declared: t.Mapping[str, Declared],
    sync_start: str,
    *,
    source: str,
    tolerance: dt.timedelta = FUTURE_TOLERANCE,
) -> list[str]:
    """Bookmarks ahead of the sync's start: within `tolerance` (clock skew), moved back to the sync's start (and
    their boundary dropped, so that second is delivered again), with a warning each; further ahead, a ConfigError.

    A bookmark ahead of the server's clock skips every record saved between the clock and the bookmark, on every
    run, while looking like success: a state copied from another instance, or one written under a wrong clock.
    """
    start = parse_datetime(sync_start)
    warnings, refused = [], []
    for name, entry in state.get("bookmarks", {}).items():
        value = entry.get("replication_key_value") if name in declared and declared[name].key else None
        if not value:
            continue
        ahead = parse_datetime(value) - start
        if ahead > tolerance:
            refused.append(f"{name} at {value} is {ahead} ahead")
        elif ahead > dt.timedelta(0):
            entry["replication_key_value"] = sync_start
            entry.pop(LEGACY_BOUNDARY, None)
            entry.pop(DELIVERED, None)
            warnings.append(
                f"{source}: the bookmark of {name} ({value}) is {ahead} ahead of the sync's start "
                f"({sync_start}), within the {minutes(tolerance)} allowed for clock skew: starting from "
                f"{sync_start}"
            )
    if refused:
        raise ConfigError(
            f"{source}: bookmark in the future: {'; '.join(refused)} of the sync's start ({sync_start}, "
            "by the server's clock); this state cannot come from a run against this server (copied from "
            "another instance, or written under a wrong clock): fix or remove the bookmark (without it "
            "the stream is read in full)"
        )
    return warnings


def minutes(duration: dt.timedelta) -> str:
    """A tolerance as users write it: `5 minutes`."""
    count = round(duration.total_seconds() / 60)
    return f"{count} minute{'s' if count != 1 else ''}"
