"""Claims of the README and SECURITY.md that no other test protected: each test here was checked to fail with the
claim broken on purpose (the break is named in its docstring), and to pass with the code as it is."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time

import pytest
import requests

from tap_openproject.timeutil import parse_datetime
from tests.helpers import API_KEY, FakeClock, clean_env, config_for, run_cli, run_sync, write_config
from tests.openproject_double import Fault

WP_PATH = r"^/api/v3/work_packages$"
UTC = dt.timezone.utc


def assert_complete(result, op, stream="work_packages"):
    assert result.error is None, result.error
    assert sorted(result.ids(stream)) == op.store.ids(stream)


def test_exponential_waits_are_capped_at_max_retry_wait(op):
    """Break: backoff.expo without max_value in RetryPolicy.backoff_steps (the waits grow to 4, 8, 16 s)."""
    clock = FakeClock()
    op.add_fault(Fault("status", path=WP_PATH, status=503, times=5))

    result = run_sync(
        config_for(op, max_retry_wait=3, max_retries=5, circuit_breaker_threshold=10),
        streams=["work_packages"],
        clock=clock,
    )

    assert_complete(result, op)
    assert len(clock.sleeps) == 5
    for wait, step in zip(clock.sleeps, (1, 2, 3, 3, 3), strict=True):
        assert step / 2 <= wait <= step


def test_a_key_in_an_error_message_is_redacted_in_the_logs_of_a_real_run(op, tmp_path):
    """The server echoes the key in an error message, which the tap logs: the run's handlers redact it.

    Breaks: logs.configure without `handler.addFilter(REDACTOR)`; TapOpenProject passing no secrets to it.
    """
    op.add_fault(Fault("status", path=WP_PATH, status=500, message=f"token {API_KEY} has no access", times=None))
    config = write_config(tmp_path, config_for(op, max_retries=0))

    result = run_cli(["--config", str(config)], env=clean_env())

    assert result.returncode == 1
    assert (
        "GET /api/v3/work_packages failed after 1 attempt: 500 Internal Server Error InternalServerError "
        "'token [REDACTED] has no access'" in result.stderr
    )
    assert API_KEY not in result.stderr and API_KEY not in result.stdout


@pytest.mark.parametrize(
    ("first_ms", "second_ms"),
    [(100, 900), (0, 0)],
    ids=["timestamps-with-milliseconds", "same-timestamp-new-lock-version"],
)
def test_a_record_edited_twice_within_the_bookmarks_second_comes_in_its_latest_version(op, first_ms, second_ms):
    """The boundary remembers versions (updatedAt and lockVersion), not ids. With (0, 0) the two saves differ only
    in lockVersion, as on a server that renders whole seconds.

    Breaks: version_of without the lockVersion (the second case). Boundary.seen comparing ids instead of versions
    breaks tests/unit/test_bookmarks.py::test_fresh_tells_versions_apart_within_a_second_not_ids.
    """
    newest = max(row.updated_at for row in op.store.rows.values())
    bookmark_second = (newest + dt.timedelta(seconds=10)).replace(microsecond=0)
    created = op.store.create_work_package(updatedAt=bookmark_second + dt.timedelta(milliseconds=first_ms))
    first = run_sync(config_for(op), streams=["work_packages"])
    assert first.error is None and created["id"] in first.ids("work_packages")
    bookmark = first.final_state["bookmarks"]["work_packages"]["replication_key_value"]
    assert parse_datetime(bookmark) == bookmark_second + dt.timedelta(milliseconds=first_ms)

    op.store.touch("work_packages", created["id"], at=bookmark_second + dt.timedelta(milliseconds=second_ms))
    second = run_sync(config_for(op), streams=["work_packages"], state=first.final_state)

    assert second.error is None, second.error
    assert second.ids("work_packages") == [created["id"]]
    latest = second.records["work_packages"][0]
    assert parse_datetime(latest["updatedAt"]) == bookmark_second + dt.timedelta(milliseconds=second_ms)
    assert latest["lockVersion"] == created["lockVersion"] + 1


def test_parallel_windows_lose_no_record_on_a_server_that_compares_milliseconds(make_double):
    """Windows share their boundary second, so a record at second S plus a fraction, which a millisecond-comparing
    server leaves out of the window ending at S (S.000), is in the next window, which starts at S. Three records
    per second, none on a whole second.

    Breaks (each loses records here; at whole-second precision the first two lose none):
    - plan_windows starting each window at the second after the previous one's end (`start = next_second(second)`);
    - UpdatedAtKeyset.records starting the open-ended last window after the last window's end
      (`reached = next_second(windows[-1][1])`);
    - the first window starting after the first page's last second (`self._plan(..., next_second(reached), ...)`).
    """
    op = make_double(work_packages=300, filter_precision="ms")
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    for rank, wp_id in enumerate(op.store.ids("work_packages")):
        at = start + dt.timedelta(seconds=7 * (rank // 3), milliseconds=100 + 300 * (rank % 3))
        op.store.update_work_package(wp_id, updated_at=at)

    result = run_sync(config_for(op, page_size=20, max_concurrency=4), streams=["work_packages"])

    assert_complete(result, op)
    closed_windows = [
        r
        for r in op.requests
        if r.path == "/api/v3/work_packages"
        and any(
            f.get("updatedAt", {}).get("operator") == "<>d" and all(f["updatedAt"]["values"])
            for f in json.loads(r.query.get("filters", "[]"))
        )
    ]
    assert len(closed_windows) >= 10, "the run must really read closed time windows"


def test_429s_do_not_count_toward_the_circuit_breaker(op):
    """Four 429s in a row, breaker threshold 2: a throttling server is alive, the run completes.

    Breaks: RetryPolicy.means_server_down true for 429; OpenProjectClient._account recording every retried
    failure in the breaker.
    """
    clock = FakeClock()
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after="1", times=4))

    result = run_sync(
        config_for(op, circuit_breaker_threshold=2, max_retries=5), streams=["work_packages"], clock=clock
    )

    assert_complete(result, op)
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]
    assert result.tap.run_context.counters.breaker_trips == 0


def test_the_sync_start_comes_from_the_servers_date_header_when_its_clock_is_behind(make_double):
    """The server's clock runs an hour behind ours; a record saved half an hour ago (by our clock) is in the
    server's future. The bookmark stops at the server's "now" (its Date header), not at ours.

    Break: startup.sync_start ignoring the Date header (our clock alone): the bookmark becomes the record's
    updatedAt, half an hour past the server's start.
    """
    op = make_double(clock_offset_s=-3600)
    created = op.store.create_work_package(updatedAt=dt.datetime.now(UTC) - dt.timedelta(minutes=30))

    before = time.time()
    result = run_sync(config_for(op), streams=["work_packages"])
    after = time.time()

    assert result.error is None, result.error
    assert created["id"] in result.ids("work_packages")
    bookmark = parse_datetime(result.final_state["bookmarks"]["work_packages"]["replication_key_value"])
    assert before - 3600 - 1 <= bookmark.timestamp() <= after - 3600


def test_429_with_ratelimit_reset_in_delta_seconds_waits_that_many_seconds(op):
    """RateLimit-Reset: 12 (the IETF draft's delta-seconds form) waits 12 s.

    Break: retry_after_seconds always reading RateLimit-Reset as an epoch timestamp (`number - now`: no wait).
    """
    clock = FakeClock()
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after=None, ratelimit_reset=12, times=1))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert clock.sleeps == [12.0]


def test_categories_keep_one_small_state_entry(op):
    """Not one state partition per project.

    Break: CategoriesStream without `state_partitioning_keys = []` (one partition per project_id context).
    """
    result = run_sync(config_for(op), streams=["projects", "categories"])

    assert_complete(result, op, "categories")
    assert all("partitions" not in state["bookmarks"].get("categories", {}) for state in result.states)
    assert result.final_state["bookmarks"]["categories"] == {}


# --- the double's switches these tests rely on ----------------------------------------------------------------
def _ids_updated_between(op, lower: str, upper: str) -> list[int]:
    filters = json.dumps([{"updatedAt": {"operator": "<>d", "values": [lower, upper]}}])
    answer = requests.get(
        f"{op.url}/api/v3/work_packages",
        params={"filters": filters, "pageSize": 100},
        auth=("apikey", API_KEY),
        timeout=10,
    )
    answer.raise_for_status()
    return [e["id"] for e in answer.json()["_embedded"]["elements"]]


def test_the_double_compares_datetime_filters_at_whole_seconds_or_at_milliseconds(op):
    created = op.store.create_work_package(updatedAt="2030-01-01T10:00:05.500Z")
    ending_at_its_second = ("2030-01-01T10:00:00Z", "2030-01-01T10:00:05Z")
    starting_at_its_second = ("2030-01-01T10:00:05Z", "")

    assert created["id"] in _ids_updated_between(op, *ending_at_its_second), "whole seconds, like OpenProject"
    op.filter_precision = "ms"
    assert created["id"] not in _ids_updated_between(op, *ending_at_its_second)
    assert created["id"] in _ids_updated_between(op, *starting_at_its_second)
    assert created["id"] in _ids_updated_between(op, "2030-01-01", "2030-01-01"), "a bare date: the whole day"


def test_the_doubles_date_header_runs_on_its_clock_offset(make_double):
    op = make_double(clock_offset_s=-3600)
    before = time.time()
    answer = requests.get(f"{op.url}/api/v3/users/me", auth=("apikey", API_KEY), timeout=10)
    after = time.time()

    served = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert before - 3600 - 1 <= served <= after - 3600
