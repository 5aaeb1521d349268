"""BookmarkPolicy: the cap at the sync's start, never moving backwards, the lookback window of delivered versions,
fresh-filtering; StateCadence: when STATE is written."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_openproject import bookmarks
from tap_openproject.bookmarks import DELIVERED, LEGACY_BOUNDARY, BookmarkPolicy, StateCadence, window_start
from tests.helpers import FakeClock

KEY = "updatedAt"
CAP = "2026-01-01T00:00:00.000Z"


def record(ident: int, updated: str, lock: int = 0) -> dict:
    return {"id": ident, KEY: updated, "lockVersion": lock}


def test_the_bookmark_follows_delivered_records_and_never_moves_backwards():
    policy, state = BookmarkPolicy(KEY, CAP), {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z"))
    policy.advance(state, record(2, "2025-01-01T09:00:00.000Z"))
    assert state["replication_key"] == KEY
    assert state["replication_key_value"] == "2025-01-01T10:00:00.000Z"


def test_the_bookmark_never_passes_the_sync_start():
    policy, state = BookmarkPolicy(KEY, CAP), {}
    policy.advance(state, record(1, "2025-12-31T23:59:59.000Z"))
    policy.advance(state, record(2, "2026-01-01T00:00:05.000Z"))
    assert state["replication_key_value"] == CAP
    # A record past the cap is read again next run (the bookmark stays at the cap); it is remembered, so an
    # unchanged one is not delivered twice, and a changed one has a new version.
    assert state[DELIVERED] == {"2": "2026-01-01T00:00:05.000Z|0"}


def test_without_lookback_the_window_is_the_bookmark_second():
    policy, state = BookmarkPolicy(KEY, CAP, lookback_seconds=0), {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z", lock=3))
    policy.advance(state, record(2, "2025-01-01T10:00:00.500Z", lock=1))
    assert state[DELIVERED] == {"1": "2025-01-01T10:00:00.000Z|3", "2": "2025-01-01T10:00:00.500Z|1"}
    policy.advance(state, record(3, "2025-01-01T10:00:01.000Z"))
    assert state[DELIVERED] == {"3": "2025-01-01T10:00:01.000Z|0"}


def test_the_window_keeps_the_versions_of_the_last_lookback_seconds():
    policy, state = BookmarkPolicy(KEY, CAP, lookback_seconds=60), {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z"))
    policy.advance(state, record(2, "2025-01-01T10:00:59.900Z"))
    policy.advance(state, record(3, "2025-01-01T10:01:00.000Z"))
    assert set(state[DELIVERED]) == {"1", "2", "3"}, "10:00:00 is the window's first second (60 s before 10:01:00)"
    policy.advance(state, record(4, "2025-01-01T10:01:01.000Z"))
    assert set(state[DELIVERED]) == {"2", "3", "4"}
    policy.advance(state, record(2, "2025-01-01T10:01:30.000Z", lock=1))  # edited again: its newer version
    policy.advance(state, record(5, "2025-01-01T10:02:00.000Z"))
    assert state[DELIVERED] == {
        "2": "2025-01-01T10:01:30.000Z|1",
        "3": "2025-01-01T10:01:00.000Z|0",
        "4": "2025-01-01T10:01:01.000Z|0",
        "5": "2025-01-01T10:02:00.000Z|0",
    }


def test_fresh_tells_versions_apart_within_a_second_not_ids():
    """A record saved twice within one second comes in both versions; a version read again (pages and windows
    overlap by a second) comes once. Breaks: the overlap comparing ids instead of versions."""
    fresh = BookmarkPolicy(KEY, CAP, lookback_seconds=300).fresh({})
    reads = [
        record(1, "2025-01-01T10:00:00.100Z", lock=1),
        record(2, "2025-01-01T10:00:00.500Z"),
        record(1, "2025-01-01T10:00:00.900Z", lock=2),  # saved again within the second
        record(1, "2025-01-01T10:00:00.900Z", lock=2),  # read again: the next page starts at this second
        record(2, "2025-01-01T10:00:00.500Z"),
        record(1, "2025-01-01T10:00:01.000Z", lock=3),  # the next second
        record(1, "2025-01-01T10:00:01.000Z", lock=3),
    ]
    assert [(r["id"], r["lockVersion"]) for r in fresh(reads)] == [(1, 1), (2, 0), (1, 2), (1, 3)]


def test_the_window_is_bounded_and_forgets_the_oldest_first(monkeypatch):
    monkeypatch.setattr(bookmarks, "MAX_DELIVERED", 3)
    policy, state = BookmarkPolicy(KEY, CAP, lookback_seconds=3600), {}
    for n in range(5):
        policy.advance(state, record(n, f"2025-01-01T10:00:0{n}.000Z"))
    assert sorted(state[DELIVERED]) == ["2", "3", "4"]


def test_a_state_of_an_earlier_release_is_read_and_replaced():
    legacy = {"second": "2025-01-01T10:00:00", "records": {"1": "2025-01-01T10:00:00.000Z|3"}}
    state = {"replication_key": KEY, "replication_key_value": "2025-01-01T10:00:00.000Z", LEGACY_BOUNDARY: legacy}
    policy = BookmarkPolicy(KEY, CAP, lookback_seconds=300)
    assert [r["id"] for r in policy.fresh(state)([record(1, "2025-01-01T10:00:00.000Z", lock=3)])] == []
    policy.advance(state, record(2, "2025-01-01T10:00:01.000Z"))
    assert LEGACY_BOUNDARY not in state
    assert state[DELIVERED] == {"1": "2025-01-01T10:00:00.000Z|3", "2": "2025-01-01T10:00:01.000Z|0"}


def test_fresh_drops_exactly_the_versions_the_state_says_were_delivered():
    policy = BookmarkPolicy(KEY, CAP, lookback_seconds=300)
    state: dict = {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z", lock=3))
    policy.advance(state, record(3, "2025-01-01T09:57:00.000Z", lock=1))
    again = [
        record(3, "2025-01-01T09:57:00.000Z", lock=1),  # delivered, within the window: dropped
        record(4, "2025-01-01T09:58:00.000Z"),  # never delivered (a late commit): delivered
        record(1, "2025-01-01T10:00:00.000Z", lock=3),  # delivered: dropped
        record(1, "2025-01-01T10:00:00.900Z", lock=4),  # edited again within the second: a new version
        record(2, "2025-01-01T10:00:00.000Z"),  # never delivered
        record(1, "2025-01-01T10:00:00.900Z", lock=4),  # the same new version read twice (overlap): once
    ]
    fresh = policy.fresh(state)
    assert [(r["id"], r["lockVersion"]) for r in fresh(again)] == [(4, 0), (1, 4), (2, 0)]


def test_fresh_keeps_filtering_overlaps_within_a_run():
    fresh = BookmarkPolicy(KEY, CAP).fresh({})
    page = [record(5, "2025-02-01T00:00:00.000Z"), record(6, "2025-02-01T00:00:01.000Z")]
    overlap = [record(6, "2025-02-01T00:00:01.000Z"), record(7, "2025-02-01T00:00:02.000Z")]
    assert [r["id"] for r in fresh(page)] + [r["id"] for r in fresh(overlap)] == [5, 6, 7]


@pytest.mark.parametrize(
    ("start", "state", "start_date", "since"),
    [
        (None, {}, None, None),
        (dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone.utc), {}, "2025-01-01T10:00:00.000Z", "2025-01-01T10:00:00.000Z"),
        (
            dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone.utc),
            {"replication_key_value": "2025-01-01T10:00:00.000Z"},
            None,
            "2025-01-01T09:55:00.000Z",
        ),
        (
            dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone.utc),
            {"replication_key_value": "2025-01-01T10:00:00.000Z"},
            "2025-01-01T09:58:00.000Z",
            "2025-01-01T09:58:00.000Z",
        ),
    ],
    ids=["nothing", "start_date only", "bookmark", "start_date within the lookback"],
)
def test_a_run_reads_from_lookback_seconds_before_the_bookmark_never_before_start_date(start, state, start_date, since):
    assert BookmarkPolicy(KEY, CAP, lookback_seconds=300).since(start, state, start_date) == since


def test_window_start_is_a_whole_second():
    assert window_start("2025-01-01T10:00:00.999Z", 300) == "2025-01-01T09:55:00"
    assert window_start("2025-01-01T00:00:10.000Z", 30.5) == "2024-12-31T23:59:39"


def test_state_is_due_after_a_page_of_records_or_after_the_interval():
    clock = FakeClock()
    cadence = StateCadence(records=3, interval=5, clock=clock)
    assert not cadence.due(), "nothing written, nothing to cover"
    cadence.written()
    cadence.written()
    assert not cadence.due()
    cadence.written()
    assert cadence.due()
    cadence.reset()
    clock.sleep(60)
    assert not cadence.due(), "time alone, with nothing written since, is not a reason"
    cadence.written()
    clock.sleep(4.9)
    assert not cadence.due()
    clock.sleep(0.1)
    assert cadence.due(), "5 s after the first record no STATE covers"


def test_the_interval_can_be_turned_off():
    clock = FakeClock()
    cadence = StateCadence(records=3, interval=0, clock=clock)
    cadence.written()
    clock.sleep(3600)
    assert not cadence.due()
