"""Incremental replication on updatedAt: server-side filters, resumable bookmarks, exact deltas, small state."""

from __future__ import annotations

import datetime as dt
import json

from tap_openproject.bookmarks import window_start
from tap_openproject.errors import SyncError
from tests.helpers import all_of, config_for, run_sync
from tests.openproject_double import Fault

LATER = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def wp_filters(request):
    return json.loads(request.query["filters"])


def test_second_run_without_changes_delivers_nothing(op):
    config = config_for(op)
    first = run_sync(config, streams=["work_packages", "time_entries", "memberships", "projects"])

    second = run_sync(config, streams=["work_packages", "time_entries", "memberships", "projects"], state=first.final_state)

    assert second.error is None
    assert second.records == {}


def test_incremental_run_delivers_every_change_and_nothing_else(op):
    config = config_for(op)
    first = run_sync(config, streams=["work_packages", "activities"])
    touched = op.store.ids("work_packages")[3], op.store.ids("work_packages")[17]
    for wp_id in touched:
        op.store.touch("work_packages", wp_id, at=LATER)
    created = op.store.create_work_package(updatedAt="2030-01-02T03:04:06Z")
    op.clear_requests()

    second = run_sync(config, streams=["work_packages", "activities"], state=first.final_state)

    assert sorted(second.ids("work_packages")) == sorted([*touched, created["id"]])
    activity_paths = sorted(r.path for r in op.requests if r.path.endswith("/activities"))
    assert activity_paths == sorted(f"/api/v3/work_packages/{i}/activities" for i in [*touched, created["id"]])
    first_request = next(r for r in op.requests if r.path == "/api/v3/work_packages")
    bookmark = first.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    # The run reads again from lookback_seconds (default 300) before the bookmark: late commits (test_lookback.py).
    since = window_start(bookmark, 300) + "Z"
    assert {"updatedAt": {"operator": "<>d", "values": [since, ""]}} in wp_filters(first_request)
    assert json.loads(first_request.query["sortBy"]) == [["updatedAt", "asc"], ["id", "asc"]]


def test_start_date_is_sent_as_a_server_side_filter(op):
    start = "2025-06-01T00:00:00Z"

    result = run_sync(config_for(op, start_date=start), streams=["work_packages"])

    first_request = next(r for r in op.requests if r.path == "/api/v3/work_packages")
    assert {"updatedAt": {"operator": "<>d", "values": ["2025-06-01T00:00:00Z", ""]}} in wp_filters(first_request)
    expected = sorted(wp["id"] for wp in all_of(op, "work_packages") if wp["updatedAt"] >= "2025-06-01")
    assert expected and len(expected) < len(op.store.ids("work_packages"))
    assert sorted(result.ids("work_packages")) == expected


def test_a_failed_run_keeps_a_bookmark_the_next_run_resumes_from(make_double):
    op = make_double(work_packages=120)
    config = config_for(op, page_size=25, max_retries=1)
    op.add_fault(Fault("status", path=r"^/api/v3/work_packages$", status=500, times=None, skip=2))

    failed = run_sync(config, streams=["work_packages"])

    assert failed.error is not None
    delivered_first = failed.ids("work_packages")
    assert 0 < len(delivered_first) < 120
    bookmark = failed.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    assert bookmark == max(r["updatedAt"] for r in failed.records["work_packages"])
    op.clear_faults()

    resumed = run_sync(config, streams=["work_packages"], state=failed.final_state)

    assert resumed.error is None
    assert sorted(set(delivered_first) | set(resumed.ids("work_packages"))) == op.store.ids("work_packages")
    assert not set(delivered_first) & set(resumed.ids("work_packages")), "boundary duplicates are dropped"


def test_same_second_burst_longer_than_a_page_neither_loops_nor_drops(make_double):
    op = make_double(work_packages=90)
    burst = op.store.ids("work_packages")[10:45]
    op.store.bulk_touch("work_packages", burst, at=LATER)

    sequential = run_sync(config_for(op, page_size=10, max_concurrency=1), streams=["work_packages"])
    requests = len([r for r in op.requests if r.path == "/api/v3/work_packages"])
    parallel = run_sync(config_for(op, page_size=10, max_concurrency=4), streams=["work_packages"])

    for result in (sequential, parallel):
        assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")
        assert len(result.ids("work_packages")) == 90
    assert requests < 20


def test_child_state_stays_small_with_thousands_of_parents(make_double):
    op = make_double(work_packages=1500)

    result = run_sync(config_for(op), streams=["work_packages", "activities", "attachments"])

    assert len(result.ids("work_packages")) == 1500
    final = json.dumps(result.final_state)
    assert len(final) < 4096, final[:500]
    assert sum(len(json.dumps(s)) for s in result.states) < 2_000_000
    assert "partitions" not in result.final_state["bookmarks"].get("activities", {})


def test_projects_fall_back_to_full_table_when_the_server_cannot_filter_updated_at(make_double, caplog):
    op = make_double(projects_updated_at_filter=False)

    result = run_sync(config_for(op), streams=["projects"])

    assert result.error is None
    assert sorted(result.ids("projects")) == op.store.ids("projects")
    assert "falling back to a full-table read" in caplog.text


def test_a_burst_that_keeps_changing_stops_the_run_without_passing_it(make_double):
    op = make_double(work_packages=90)
    burst_at = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)  # after the dataset, before the sync's start
    assert max(wp["updatedAt"] for wp in all_of(op, "work_packages")) < "2026-11-01"
    op.store.bulk_touch("work_packages", op.store.ids("work_packages")[10:45], at=burst_at)
    second = "2026-11-01T00:00:00Z"

    def grow_the_burst(double, request):
        filters = request.query.get("filters", "")
        if request.path == "/api/v3/work_packages" and f'"{second}"' in filters and '"2026-11-01T00:00:01Z"' in filters:
            double.store.create_work_package(updatedAt=second)  # a bulk job still adding rows to this second

    op.on_request = grow_the_burst
    stopped = run_sync(config_for(op, page_size=10, max_concurrency=1), streams=["work_packages"])
    op.on_request = None

    assert isinstance(stopped.error, SyncError) and "kept changing" in str(stopped.error)
    bookmark = stopped.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    assert bookmark <= "2026-11-01T00:00:00.000Z", "at most the burst's second, never past it"
    resumed = run_sync(config_for(op, page_size=10), streams=["work_packages"], state=stopped.final_state)
    assert resumed.error is None
    assert sorted(set(stopped.ids("work_packages")) | set(resumed.ids("work_packages"))) == op.store.ids("work_packages")
