"""BookmarkPolicy: the cap at the sync's start, never moving backwards, the boundary, fresh-filtering."""

from __future__ import annotations

from tap_openproject.bookmarks import BOUNDARY, BookmarkPolicy

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
    assert BOUNDARY not in state, "records past the cap come again next run: no boundary to skip them"


def test_the_boundary_remembers_versions_delivered_in_the_bookmark_second():
    policy, state = BookmarkPolicy(KEY, CAP), {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z", lock=3))
    policy.advance(state, record(2, "2025-01-01T10:00:00.500Z", lock=1))
    assert state[BOUNDARY] == {
        "second": "2025-01-01T10:00:00",
        "records": {"1": "2025-01-01T10:00:00.000Z|3", "2": "2025-01-01T10:00:00.500Z|1"},
    }
    policy.advance(state, record(3, "2025-01-01T10:00:01.000Z"))
    assert state[BOUNDARY] == {"second": "2025-01-01T10:00:01", "records": {"3": "2025-01-01T10:00:01.000Z|0"}}


def test_fresh_drops_exactly_the_versions_the_state_says_were_delivered():
    policy = BookmarkPolicy(KEY, CAP)
    state: dict = {}
    policy.advance(state, record(1, "2025-01-01T10:00:00.000Z", lock=3))
    again = [
        record(1, "2025-01-01T10:00:00.000Z", lock=3),  # delivered: dropped
        record(1, "2025-01-01T10:00:00.900Z", lock=4),  # edited again within the second: a new version
        record(2, "2025-01-01T10:00:00.000Z"),  # never delivered
        record(1, "2025-01-01T10:00:00.900Z", lock=4),  # the same new version read twice (overlap): once
    ]
    fresh = policy.fresh(state)
    assert [(r["id"], r["lockVersion"]) for r in fresh(again)] == [(1, 4), (2, 0)]


def test_fresh_keeps_filtering_overlaps_within_a_run():
    fresh = BookmarkPolicy(KEY, CAP).fresh({})
    page = [record(5, "2025-02-01T00:00:00.000Z"), record(6, "2025-02-01T00:00:01.000Z")]
    overlap = [record(6, "2025-02-01T00:00:01.000Z"), record(7, "2025-02-01T00:00:02.000Z")]
    assert [r["id"] for r in fresh(page)] + [r["id"] for r in fresh(overlap)] == [5, 6, 7]
