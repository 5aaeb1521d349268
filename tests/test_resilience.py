"""Fault injection: every failure mode the tap must survive (or stop on, clearly), with the clock injected so
the waits it asked for are asserted exactly and nothing really sleeps (except the stalled-server test, which
needs a real socket timeout)."""

from __future__ import annotations

import email.utils
import socket

import pytest

from tap_openproject.errors import CircuitOpenError, RateLimitTooLongError, SyncError, UnsafeRequestError
from tap_openproject.http import within
from tests.helpers import FakeClock, config_for, run_sync
from tests.openproject_double import Fault

WP_PATH = r"^/api/v3/work_packages$"


def wp_requests(op):
    return [r for r in op.requests if r.path == "/api/v3/work_packages"]


def assert_complete(result, op, stream="work_packages"):
    assert result.error is None, result.error
    assert sorted(result.ids(stream)) == op.store.ids(stream)


def test_5xx_burst_is_retried_with_exponential_backoff_and_jitter(op):
    clock = FakeClock()
    op.add_fault(Fault("status", path=WP_PATH, status=503, body="html", times=3))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert len(clock.sleeps) == 3
    for wait, step in zip(clock.sleeps, (1, 2, 4), strict=True):
        assert step / 2 <= wait <= step
    assert [r.status for r in wp_requests(op)][:4] == [503, 503, 503, 200]


def test_429_with_retry_after_seconds_waits_exactly_that(op):
    clock = FakeClock()
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after="7", times=1))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert clock.sleeps == [7.0]


def test_429_with_retry_after_http_date(op):
    clock = FakeClock()
    when = email.utils.formatdate(clock.now() + 30, usegmt=True)
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after=when, times=1))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert clock.sleeps == [30.0]


def test_429_with_only_ratelimit_reset_waits_until_the_reset(op):
    clock = FakeClock()
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after=None, ratelimit_reset=int(clock.now()) + 12, times=1))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert clock.sleeps == [12.0]


def test_a_wait_longer_than_max_retry_wait_fails_clearly(op):
    clock = FakeClock()
    op.add_fault(Fault("rate_limit", path=WP_PATH, retry_after="600", times=1))

    result = run_sync(config_for(op, max_retry_wait=300), streams=["work_packages"], clock=clock)

    assert isinstance(result.error, RateLimitTooLongError)
    assert "600 s" in str(result.error) and "max_retry_wait" in str(result.error)
    assert clock.sleeps == []
    assert len(wp_requests(op)) == 1


def test_a_stalling_server_costs_at_most_the_timeout_per_attempt(op):
    clock = FakeClock()
    op.add_fault(Fault("stall", path=WP_PATH, seconds=3, times=1))

    result = run_sync(config_for(op, timeout=0.3), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert len(clock.sleeps) == 1
    assert result.tap.run_context.counters.retries == 1


@pytest.mark.parametrize("kind", ["truncated_json", "short_body", "html_200", "wrong_content_type", "close"])
def test_broken_answers_are_retried(op, kind):
    clock = FakeClock()
    op.add_fault(Fault(kind, path=WP_PATH, times=2))

    result = run_sync(config_for(op), streams=["work_packages"], clock=clock)

    assert_complete(result, op)
    assert len(clock.sleeps) == 2


def test_an_html_page_that_never_goes_away_fails_with_a_clear_message(op):
    op.add_fault(Fault("html_200", path=WP_PATH, times=None))

    result = run_sync(config_for(op, max_retries=2), streams=["work_packages"])

    assert isinstance(result.error, SyncError)
    assert "text/html" in str(result.error) and "after 3 attempts" in str(result.error)
    assert len(wp_requests(op)) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_client_errors_are_never_retried(op, status):
    clock = FakeClock()
    op.add_fault(Fault("status", path=WP_PATH, status=status, skip=1, times=None))

    result = run_sync(config_for(op, page_size=20), streams=["work_packages"], clock=clock)

    assert isinstance(result.error, SyncError)
    assert str(status) in str(result.error)
    assert clock.sleeps == []
    failed = [tuple(sorted(r.query.items())) for r in wp_requests(op) if r.status == status]
    assert failed and len(failed) == len(set(failed)), "no request is ever sent twice"


def test_a_404_mid_stream_is_not_mistaken_for_a_missing_collection(op):
    op.add_fault(Fault("status", path=WP_PATH, status=404, skip=1, times=None))

    result = run_sync(config_for(op, page_size=20), streams=["work_packages"])

    assert isinstance(result.error, SyncError)
    assert not result.tap.run_context.unavailable.reasons


def test_circuit_breaker_opens_after_consecutive_failures(op):
    clock = FakeClock()
    op.add_fault(Fault("status", path=WP_PATH, status=500, times=None))

    result = run_sync(
        config_for(op, circuit_breaker_threshold=4, max_retries=10), streams=["work_packages", "statuses"], clock=clock
    )

    assert isinstance(result.error, CircuitOpenError)
    assert "4 consecutive failed attempts" in str(result.error)
    assert len(wp_requests(op)) == 4
    assert len(clock.sleeps) == 3
    assert result.tap.run_context.counters.breaker_trips == 1
    # The last good state is written after the failure, as the last message: statuses (read first) complete,
    # work_packages without a bookmark, since none of its records was delivered.
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    assert result.messages[-1]["type"] == "STATE"
    assert set(result.final_state["bookmarks"]) == {"statuses", "work_packages"}
    assert "replication_key_value" not in result.final_state["bookmarks"]["work_packages"]


def test_breaker_counts_consecutive_failures_across_requests_not_per_request(op):
    clock = FakeClock()
    # two failures, a success, two failures: never 3 in a row
    op.add_fault(Fault("status", path=WP_PATH, status=502, times=2))
    op.add_fault(Fault("status", path=r"^/api/v3/statuses$", status=502, times=2))

    result = run_sync(config_for(op, circuit_breaker_threshold=3), streams=["work_packages", "statuses"], clock=clock)

    assert result.error is None
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")


def test_a_closed_port_fails_after_retries_with_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = FakeClock()

    result = run_sync(
        {"base_url": f"http://127.0.0.1:{port}", "api_key": "abcdef123456", "max_retries": 2}, clock=clock
    )

    assert isinstance(result.error, SyncError)
    assert "connection refused" in str(result.error)
    assert "\n" not in str(result.error)
    assert len(clock.sleeps) == 2


def test_redirect_to_another_host_carries_no_credentials(make_double):
    op = make_double()
    other = make_double(work_packages=5)
    op.add_fault(Fault("redirect", path=WP_PATH, status=302, location=other.url + "/api/v3/work_packages", times=None))

    result = run_sync(config_for(op), streams=["work_packages"])

    assert isinstance(result.error, UnsafeRequestError)
    assert other.url.split("//")[1] in str(result.error)
    assert other.requests == []


def test_redirect_within_base_url_is_followed(op):
    op.add_fault(Fault("redirect", path=r"^/api/v3/statuses$", status=307, location=op.url + "/api/v3/statuses?x=1", times=1))

    result = run_sync(config_for(op), streams=["statuses"])

    assert_complete(result, op, "statuses")
    followed = [r for r in op.requests if r.path == "/api/v3/statuses"]
    assert len(followed) == 2 and "Authorization" in followed[1].headers


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://op.example.com/api/v3/work_packages", True),
        ("https://op.example.com/api/v3", True),
        ("http://op.example.com/api/v3/work_packages", False),  # downgrade to plain http
        ("https://evil.example.com/api/v3/work_packages", False),
        ("https://op.example.com:8443/api/v3/work_packages", False),
        ("https://op.example.com/api/v30/x", False),
        ("https://op.example.com/other", False),
    ],
)
def test_urls_must_stay_under_base_url(url, inside):
    assert within(url, "https://op.example.com/api/v3") is inside


def test_sessions_are_closed_on_success_and_on_failure(op):
    ok = run_sync(config_for(op), streams=["statuses"])
    op.add_fault(Fault("status", path=WP_PATH, status=400, times=None))
    failed = run_sync(config_for(op), streams=["work_packages"])

    for result in (ok, failed):
        pools = [adapter.poolmanager.pools for adapter in result.tap.run_context.client.session.adapters.values()]
        assert all(len(p) == 0 for p in pools)


class FrozenClock(FakeClock):
    """Records sleeps without moving time: what another thread would see while one thread waits."""

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_a_429_pauses_every_request_not_just_the_one_that_got_it():
    import random

    from tap_openproject.http import Failure, Guard, RetryPolicy
    from tap_openproject.observability import Counters

    clock = FrozenClock()
    guard = Guard(breaker_threshold=5, clock=clock, counters=Counters())
    policy = RetryPolicy(max_retries=3, max_wait=300)
    throttled = Failure("status", "429 Too Many Requests", 429, {"Retry-After": "5"})

    wait = policy.wait(throttled, policy.backoff_steps(), clock.now(), random.Random(0))
    assert (wait.seconds, wait.server_asked) == (5.0, True)
    guard.pause(wait.seconds)  # what the client does for the thread that got the 429: pause everyone, then wait
    clock.sleep(wait.seconds)
    guard.before_attempt()  # any other request, from any thread, now waits for the same pause
    guard.before_attempt()

    assert clock.sleeps == [5.0, 5.0, 5.0]
    clock.time += 5
    guard.before_attempt()
    assert clock.sleeps == [5.0, 5.0, 5.0], "after the pause, requests go out at once"
