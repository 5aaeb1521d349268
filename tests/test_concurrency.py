"""Concurrency changes timing, never output: parallel pages, time windows and prefetched children produce the same
Singer records, in the same order, with the same state as a sequential run."""

from __future__ import annotations

import threading
import typing as t

import msgspec
import pytest

from tap_openproject.http import Guard, OpenProjectClient, RetryPolicy
from tap_openproject.observability import Counters, RunStats
from tap_openproject.paging import Pager
from tap_openproject.tap import TapOpenProject
from tests.helpers import API_KEY, FakeClock, catalog_for, config_for, run_sync
from tests.openproject_double import Fault

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


def test_with_two_requests_in_flight_windows_are_two_pages(make_double, monkeypatch):
    """With two requests in flight (Pager.depth_for), the keyset reads windows of two pages: a probe per 2 pages
    instead of per half page, and full pages (README, Performance)."""
    op = make_double(work_packages=1000)
    sequential = run_sync(config_for(op, page_size=100, max_concurrency=1), streams=["work_packages"])
    monkeypatch.setattr(Pager, "depth_for", lambda self, server_s, records_s: 2)
    first_request = len(op.requests)

    result = run_sync(config_for(op, page_size=100, max_concurrency=8), streams=["work_packages"])

    assert records(result) == records(sequential)
    requests = [r for r in op.requests[first_request:] if r.path == "/api/v3/work_packages"]
    probes = [r for r in requests if r.query.get("pageSize") == "1"]
    pages = [len(r.element_ids or []) for r in requests if r.query.get("pageSize") == "100"]
    assert len(probes) == 5  # ranks 280, 460, 640, 820 and the last, 1,000: one every 1.8 pages
    assert len(pages) <= 12, pages  # the first page, then each window in two requests (or three at most)


def test_against_a_fast_server_keyset_pages_come_one_request_ahead(make_double, monkeypatch):
    """A server that answers a page sooner than the tap uses it (Pager.depth_for: 1) is read in keyset pages,
    no probes and no windows: exactly the requests, records and bookmark of a sequential run (README,
    Performance)."""
    op = make_double(work_packages=1000)
    sequential = run_sync(config_for(op, page_size=100, max_concurrency=1), streams=["work_packages"])
    asked_sequentially = [r.query for r in op.requests if r.path == "/api/v3/work_packages"]
    monkeypatch.setattr(Pager, "depth_for", lambda self, server_s, records_s: 1)
    first_request = len(op.requests)

    result = run_sync(config_for(op, page_size=100, max_concurrency=8), streams=["work_packages"])

    assert result.error is None
    assert records(result) == records(sequential)
    assert [r.query for r in op.requests[first_request:] if r.path == "/api/v3/work_packages"] == asked_sequentially
    assert len(asked_sequentially) == 11  # each page restarts at the second of the one before: 11 for 1,000
    bookmark = result.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    assert bookmark == sequential.final_state["bookmarks"]["work_packages"]["replication_key_value"]


def test_the_next_keyset_page_is_asked_for_before_this_pages_records_are_delivered(make_double, monkeypatch):
    """One request ahead: when a page arrives, the next one (which starts at its last record) is requested at
    once, so the server answers while this page's records are made and written; never two ahead."""
    op = make_double(work_packages=500)
    sequential = run_sync(config_for(op, page_size=100, max_concurrency=1), streams=["work_packages"])
    monkeypatch.setattr(Pager, "depth_for", lambda self, server_s, records_s: 1)
    page_requests = threading.Semaphore(0)

    def count(double, request):
        if request.path == "/api/v3/work_packages" and request.query.get("pageSize") == "100":
            page_requests.release()

    op.on_request = count
    config = config_for(op, page_size=100, max_concurrency=8)
    tap = TapOpenProject(config=config, catalog=catalog_for(config, ["work_packages"]), clock=FakeClock())
    reading = iter(tap.streams["work_packages"].get_records(None))

    delivered = [next(reading) for _ in range(101)]  # the first page's records and the first of the second's

    # Pages 1 and 2, and page 3, asked for when page 2 arrived: without the request ahead this waits in vain.
    assert all(page_requests.acquire(timeout=30) for _ in range(3))
    assert not page_requests.acquire(blocking=False)  # page 4 only once page 3 is read
    rest = list(reading)
    assert delivered + rest == sequential.records["work_packages"]


@pytest.mark.parametrize(
    ("kind", "params"),
    [("status", {"status": 503}), ("truncated_json", {}), ("close", {}), ("rate_limit", {"retry_after": "3"})],
)
def test_a_page_asked_for_ahead_that_fails_is_retried_where_it_is_read(make_double, monkeypatch, kind, params):
    """The answer to a request sent ahead is classified and decoded by the reader, so every failure of it is
    retried as any other request's is (and counted), and no record is lost."""
    op = make_double(work_packages=600)
    sequential = run_sync(config_for(op, page_size=100, max_concurrency=1), streams=["work_packages"])
    monkeypatch.setattr(Pager, "depth_for", lambda self, server_s, records_s: 1)
    op.add_fault(Fault(kind, path=r"^/api/v3/work_packages$", times=1, skip=3, **params))  # page 4, asked ahead

    result = run_sync(config_for(op, page_size=100, max_concurrency=8), streams=["work_packages"])

    assert result.error is None
    assert records(result) == records(sequential)
    assert result.tap.run_context.counters.retries == 1


def test_answers_are_decoded_by_the_thread_that_asked_for_them(op):
    """The main thread's requests are sent and read on the foreground thread (so a signal is never stuck behind a
    recv), and a request can be sent ahead; either way the answer is decoded by the thread that asked for it, where
    its records are made (README, Performance)."""
    clock = FakeClock()
    client = OpenProjectClient(
        api_root=op.url + "/api/v3",
        api_key=API_KEY,
        user_agent="test",
        timeout=10,
        pool_size=2,
        policy=RetryPolicy(max_retries=0, max_wait=0),
        guard=Guard(breaker_threshold=5, clock=clock, counters=Counters()),
        stats=RunStats(clock=clock),
    )
    decoded_by: list[threading.Thread] = []

    def decode(body: bytes) -> t.Any:
        decoded_by.append(threading.current_thread())
        return msgspec.json.decode(body)

    try:
        client.get("/statuses", label="statuses", decode=decode)
        client.get("/statuses", label="statuses", decode=decode, ahead=client.send_ahead("/statuses"))
        worker = threading.Thread(target=lambda: client.get("/statuses", label="statuses", decode=decode))
        worker.start()
        worker.join(timeout=60)
    finally:
        client.close()

    assert decoded_by == [threading.main_thread(), threading.main_thread(), worker]
    assert len([r for r in op.requests if r.path == "/api/v3/statuses"]) == 3


def test_a_page_carries_how_long_the_server_took_to_answer_it(make_double):
    """Pager.depth_for judges the server by the first page's time to its headers (requests' `elapsed`), not by
    the time the tap then spends reading and decoding it."""
    op = make_double(work_packages=30, latency_ms=120)
    config = config_for(op, page_size=10, max_concurrency=1)
    tap = TapOpenProject(config=config, catalog=catalog_for(config, ["statuses"]), clock=FakeClock())
    pager = tap.run_context.pager

    page = pager.read("work_packages", "/work_packages", {"pageSize": 10, "offset": 1, "filters": "[]"})

    assert len(page.elements) == 10
    assert 0.12 <= page.server_s < 30
