"""RetryPolicy: which failures are retried, which count toward the breaker, and the exact waits (no HTTP)."""

from __future__ import annotations

import email.utils
import random

import pytest

from tap_openproject.errors import RateLimitTooLongError
from tap_openproject.http import Failure, RetryPolicy

NOW = 1_767_225_600.0
POLICY = RetryPolicy(max_retries=5, max_wait=300)


def status(code: int, **headers: str) -> Failure:
    return Failure("status", f"{code} for GET /x", code, headers)


@pytest.mark.parametrize(
    ("failure", "retried", "server_down"),
    [
        (status(429), True, False),
        (status(500), True, True),
        (status(502), True, True),
        (status(503), True, True),
        (status(504), True, True),
        (status(400), False, False),
        (status(401), False, False),
        (status(403), False, False),
        (status(404), False, False),
        (status(422), False, False),
        (Failure("timeout", "request timed out"), True, True),
        (Failure("connection", "connection refused"), True, True),
        (Failure("body", "response body cut off"), True, True),
        (Failure("content", "200 answer with text/html content type"), True, True),
        (Failure("tls", "TLS error"), False, False),
    ],
)
def test_which_failures_are_retried_and_which_mean_the_server_is_down(failure, retried, server_down):
    assert POLICY.retries(failure) is retried
    assert POLICY.means_server_down(failure) is server_down


def test_retry_after_in_seconds_is_waited_exactly_and_pauses_everyone():
    wait = POLICY.wait(status(429, **{"Retry-After": "7"}), POLICY.backoff_steps(), NOW, random.Random(1))
    assert (wait.seconds, wait.server_asked, wait.reason) == (7.0, True, "server asked to wait (Retry-After)")


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(NOW + 30, usegmt=True)
    wait = POLICY.wait(status(503, **{"Retry-After": when}), POLICY.backoff_steps(), NOW, random.Random(1))
    assert (wait.seconds, wait.server_asked) == (30.0, True)


@pytest.mark.parametrize(("reset", "expected"), [(str(int(NOW) + 12), 12.0), ("12", 12.0), ("0", 0.0)])
def test_ratelimit_reset_as_epoch_seconds_or_delta_seconds(reset, expected):
    wait = POLICY.wait(status(429, **{"RateLimit-Reset": reset}), POLICY.backoff_steps(), NOW, random.Random(1))
    assert (wait.seconds, wait.reason) == (expected, "server asked to wait (RateLimit-Reset)")


def test_retry_after_wins_over_ratelimit_reset():
    failure = status(429, **{"Retry-After": "3", "RateLimit-Reset": "40"})
    assert POLICY.wait(failure, POLICY.backoff_steps(), NOW, random.Random(1)).seconds == 3.0


def test_a_requested_wait_longer_than_max_wait_gives_up_with_one_clear_line():
    with pytest.raises(RateLimitTooLongError, match=r"asked to wait 600 s \(Retry-After\).*max_retry_wait \(300 s\)"):
        POLICY.wait(status(429, **{"Retry-After": "600"}), POLICY.backoff_steps(), NOW, random.Random(1))


def test_exponential_waits_use_equal_jitter_and_are_capped_at_max_wait():
    policy = RetryPolicy(max_retries=6, max_wait=3)
    steps = policy.backoff_steps()
    rng = random.Random(7)
    waits = [policy.wait(status(503), steps, NOW, rng) for _ in range(6)]
    assert all(not w.server_asked and w.reason == "exponential backoff" for w in waits)
    for wait, step in zip(waits, (1, 2, 3, 3, 3, 3), strict=True):
        assert step / 2 <= wait.seconds <= step
    assert max(w.seconds for w in waits) <= 3


def test_a_server_asked_wait_does_not_advance_the_exponential_schedule():
    steps = POLICY.backoff_steps()
    POLICY.wait(status(429, **{"Retry-After": "5"}), steps, NOW, random.Random(1))
    after = POLICY.wait(status(503), steps, NOW, random.Random(1))
    assert 0.5 <= after.seconds <= 1.0  # the first exponential step, not the second


def test_attempts_are_the_first_plus_max_retries():
    assert RetryPolicy(max_retries=0, max_wait=1).max_attempts == 1
    assert POLICY.max_attempts == 6
