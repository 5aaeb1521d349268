"""Late commits: a save whose transaction commits after its updatedAt, when the previous run had already read past
that time. Each run reads again from `lookback_seconds` before the bookmark; the versions delivered within that
window are remembered in the state, so nothing is delivered twice and every new version is delivered.

A late commit is staged in the double by giving a work package, after run 1, an updatedAt before run 1's bookmark:
to run 1 the row was not there yet (uncommitted), to run 2 it is, with its old timestamp.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tap_openproject.bookmarks import DELIVERED
from tap_openproject.timeutil import format_datetime
from tests.helpers import config_for, run_sync

#: The newest save in the dataset before run 1 (after the generated data, before the sync's start).
BOOKMARK = dt.datetime(2025, 9, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
#: Work packages saved in the 3 minutes before BOOKMARK, i.e. inside the default 300 s window.
RECENT = 10
CONCURRENCY = pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "concurrent"])


def stage(op):
    """Run 1's data: RECENT work packages saved 20 s apart up to BOOKMARK, the rest long before."""
    ids = op.store.ids("work_packages")
    for n, wp_id in enumerate(ids[:RECENT]):
        op.store.touch("work_packages", wp_id, at=BOOKMARK - dt.timedelta(seconds=20 * (RECENT - 1 - n)))
    return ids


def first_run(op, **settings):
    config = config_for(op, page_size=10, **settings)
    first = run_sync(config, streams=["work_packages"])
    assert first.error is None, first.error
    assert sorted(first.ids("work_packages")) == op.store.ids("work_packages")
    assert first.final_state["bookmarks"]["work_packages"]["replication_key_value"] == format_datetime(BOOKMARK)
    return config, first


def late_commit(op, wp_id, seconds_before_bookmark):
    op.store.touch("work_packages", wp_id, at=BOOKMARK - dt.timedelta(seconds=seconds_before_bookmark))


@CONCURRENCY
def test_a_save_committed_30_s_late_is_delivered_by_the_next_run(op, concurrency):
    ids = stage(op)
    config, first = first_run(op, max_concurrency=concurrency)
    late = ids[30]
    late_commit(op, late, 30)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.error is None
    assert second.ids("work_packages") == [late], "the late save, and nothing already delivered"
    assert second.records["work_packages"][0]["lockVersion"] == op.store.work_packages[late]["lockVersion"]
    third = run_sync(config, streams=["work_packages"], state=second.final_state)
    assert third.records == {}, "delivered once: the window remembers it"


@pytest.mark.parametrize("late", [1, 120, 299])
def test_saves_committed_up_to_lookback_seconds_late_are_delivered(op, late):
    ids = stage(op)
    config, first = first_run(op)
    late_commit(op, ids[30], late)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.ids("work_packages") == [ids[30]]


def test_a_save_committed_later_than_lookback_seconds_is_missed(op):
    """The documented limit: raise lookback_seconds if saves on your instance commit later than that."""
    ids = stage(op)
    config, first = first_run(op, lookback_seconds=60)
    late_commit(op, ids[30], 61)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.error is None
    assert second.records == {}


def test_without_lookback_the_late_save_is_missed(op):
    """lookback_seconds: 0 is the behaviour before lookback: the same late save is lost (the test above can fail)."""
    ids = stage(op)
    config, first = first_run(op, lookback_seconds=0)
    late_commit(op, ids[30], 30)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.error is None
    assert second.records == {}


@CONCURRENCY
def test_nothing_is_delivered_twice_when_nothing_changed(op, concurrency):
    stage(op)
    config, first = first_run(op, max_concurrency=concurrency)
    op.clear_requests()

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.error is None
    assert second.records == {}
    served = {i for r in op.requests if r.path == "/api/v3/work_packages" for i in (r.element_ids or [])}
    assert len(served) >= RECENT, "the window was read again (and filtered), not skipped"


def test_a_record_edited_twice_within_the_window_is_delivered_in_its_latest_version(op):
    ids = stage(op)
    config, first = first_run(op)
    edited = ids[2]  # delivered by run 1, 140 s before the bookmark
    late_commit(op, edited, 60)  # a late commit ...
    late_commit(op, edited, 10)  # ... and another edit, both before run 2
    current = op.store.work_packages[edited]

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert second.error is None
    assert [(r["id"], r["lockVersion"], r["updatedAt"]) for r in second.records["work_packages"]] == [
        (edited, current["lockVersion"], format_datetime(BOOKMARK - dt.timedelta(seconds=10)))
    ]


def test_the_state_remembers_exactly_the_versions_inside_the_window(op):
    ids = stage(op)
    _, first = first_run(op, lookback_seconds=100)

    delivered = first.final_state["bookmarks"]["work_packages"][DELIVERED]

    # Saved 0, 20, ... 100 s before the bookmark: the 6 newest of the RECENT ones; nothing older is kept.
    assert sorted(map(int, delivered)) == sorted(ids[RECENT - 6 : RECENT])
    for n in range(RECENT - 6, RECENT):
        saved = format_datetime(BOOKMARK - dt.timedelta(seconds=20 * (RECENT - 1 - n)))
        assert delivered[str(ids[n])] == f"{saved}|{op.store.work_packages[ids[n]]['lockVersion']}"


def test_a_record_saved_during_the_run_past_its_start_is_not_delivered_again_unchanged(op):
    """The bookmark stops at the sync's start (the cap); the next run reads past it again, and drops what it
    delivered there unless it changed meanwhile."""
    ids = stage(op)
    during = ids[40]

    def save_during_the_run(double, request):
        if request.path == "/api/v3/work_packages" and not op.store.rows[during].updated_at > BOOKMARK:
            op.store.touch("work_packages", during, at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))

    op.on_request = save_during_the_run
    config = config_for(op, page_size=10)
    first = run_sync(config, streams=["work_packages"])
    op.on_request = None
    bookmark = first.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    saved = first.records["work_packages"][-1]
    assert first.error is None and saved["id"] == during
    assert bookmark < saved["updatedAt"], "capped at the sync's start"
    op.clear_requests()

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    served = {i for r in op.requests if r.path == "/api/v3/work_packages" for i in (r.element_ids or [])}
    assert during in served, "read again past the cap"
    assert second.records == {}
    op.store.touch("work_packages", during, at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3))
    third = run_sync(config, streams=["work_packages"], state=second.final_state)
    assert third.ids("work_packages") == [during], "changed again: delivered"
