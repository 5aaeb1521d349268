"""Concurrency changes timing, never output: parallel pages, time windows and prefetched children produce the same
Singer records, in the same order, with the same state as a sequential run."""

from __future__ import annotations

from tap_openproject.paging import Pager
from tests.helpers import FakeClock, config_for, run_sync

STREAMS = ["work_packages", "activities", "attachments", "relations", "time_entries", "projects", "categories"]


def records(result):
    return [(m["stream"], m["record"]) for m in result.messages if m["type"] == "RECORD"]


def test_parallel_run_emits_exactly_what_a_sequential_run_emits(make_double):
    op = make_double(work_packages=420)
    sequential = run_sync(config_for(op, page_size=25, max_concurrency=1), streams=STREAMS)
    parallel = run_sync(config_for(op, page_size=25, max_concurrency=4), streams=STREAMS)

    assert sequential.error is None and parallel.error is None
    assert records(parallel) == records(sequential)
    assert parallel.final_state["bookmarks"]["work_packages"]["replication_key_value"] == (
        sequential.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    )
    assert sorted(parallel.ids("work_packages")) == op.store.ids("work_packages")


def test_incremental_windows_keep_sort_order_and_monotonic_bookmarks(make_double):
    op = make_double(work_packages=500)

    result = run_sync(config_for(op, page_size=20, max_concurrency=6), streams=["work_packages"])

    keys = [(r["updatedAt"], r["id"]) for r in result.records["work_packages"]]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys)) == 500
    bookmarks = [
        s["bookmarks"]["work_packages"]["replication_key_value"]
        for s in result.states
        if s.get("bookmarks", {}).get("work_packages", {}).get("replication_key_value")
    ]
    assert bookmarks == sorted(bookmarks)
    assert bookmarks[-1] == keys[-1][0]


def test_parallel_pages_are_each_requested_once(make_double):
    op = make_double(work_packages=300)

    result = run_sync(config_for(op, page_size=9, max_concurrency=5), streams=["relations"])

    offsets = sorted(int(r.query["offset"]) for r in op.requests if r.path == "/api/v3/relations")
    assert offsets == list(range(1, len(offsets) + 1))
    assert sorted(result.ids("relations")) == op.store.ids("relations")


def test_children_are_fetched_once_per_parent(make_double):
    op = make_double(work_packages=150)

    result = run_sync(config_for(op, max_concurrency=8), streams=["work_packages", "activities"])

    paths = [r.path for r in op.requests if r.path.endswith("/activities")]
    assert sorted(paths) == sorted(f"/api/v3/work_packages/{i}/activities" for i in op.store.ids("work_packages"))
    assert sorted(result.ids("activities")) == op.store.ids("activities")


def test_max_requests_per_second_spaces_requests(op):
    clock = FakeClock()

    result = run_sync(config_for(op, max_requests_per_second=4, max_concurrency=1), streams=["statuses", "types"], clock=clock)

    assert result.error is None
    attempts = result.tap.run_context.counters.attempts
    assert attempts >= 3
    assert abs(sum(clock.sleeps) - (attempts - 1) * 0.25) < 1e-6


def test_with_eight_threads_windows_hold_half_a_page_and_all_are_in_flight(make_double):
    """Windows of page_size * 4 / max_concurrency records: the same records in memory as four pages, read by every
    thread (README, Performance). Pages of 100 and 8 threads: windows of about 50, never a full page."""
    op = make_double(work_packages=1000)

    result = run_sync(config_for(op, page_size=100, max_concurrency=8), streams=["work_packages"])

    assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")
    pages = [r for r in op.requests if r.path == "/api/v3/work_packages" and r.query.get("pageSize") == "100"]
    first, windows = pages[0], [len(r.element_ids or []) for r in pages[1:-1]]
    assert len(first.element_ids) == 100
    assert len(windows) >= 15 and max(windows) <= 60, windows


def test_against_a_fast_server_windows_are_two_pages_with_one_request_ahead(make_double, monkeypatch):
    """When the first page came back faster than the tap made its records (Pager.depth_for), the keyset reads
    windows of two pages, two requests in flight: a probe per 2 pages instead of per half page, and full pages
    (README, Performance)."""
    op = make_double(work_packages=1000)
    sequential = run_sync(config_for(op, page_size=100, max_concurrency=1), streams=["work_packages"])
    monkeypatch.setattr(Pager, "depth_for", lambda self, answer_s, records_s: 2)
    first_request = len(op.requests)

    result = run_sync(config_for(op, page_size=100, max_concurrency=8), streams=["work_packages"])

    assert records(result) == records(sequential)
    requests = [r for r in op.requests[first_request:] if r.path == "/api/v3/work_packages"]
    probes = [r for r in requests if r.query.get("pageSize") == "1"]
    pages = [len(r.element_ids or []) for r in requests if r.query.get("pageSize") == "100"]
    assert len(probes) == 5  # ranks 280, 460, 640, 820 and the last, 1,000: one every 1.8 pages
    assert len(pages) <= 12, pages  # the first page, then each window in two requests (or three at most)
