"""The retry policy: which failures get another attempt, which give up at once, how long to wait.

Pure decisions, in the spirit of urllib3's `Retry`: no I/O, no sleeping, no shared state. The client asks it
after every failed attempt; the waits themselves go through the run's guard (a shared pause) and clock.
"""

from __future__ import annotations

import email.utils
import random
import typing as t
from dataclasses import dataclass

import backoff

from tap_openproject.errors import RateLimitTooLongError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_openproject.http.responses import Failure

#: Above this a RateLimit-Reset value is an epoch timestamp, below it a number of seconds.
_EPOCH_THRESHOLD = 10**9
#: Failure kinds worth another attempt (a TLS failure will not heal by itself: it gives up at once).
_RETRIED_KINDS = frozenset({"timeout", "connection", "body", "content"})


@dataclass(frozen=True)
class Wait:
    """How long to wait before the next attempt, and why."""

    seconds: float
    reason: str
    #: True when the server named the wait (Retry-After / RateLimit-Reset): it then pauses every request.
    server_asked: bool


def retry_after_seconds(headers: t.Mapping[str, str], now: float) -> tuple[float, str] | None:
    """The wait an answer asks for: Retry-After (seconds or HTTP date), else RateLimit-Reset; None if neither."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return float(value), "Retry-After"
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now), "Retry-After"
    reset = headers.get("RateLimit-Reset")
    if reset:
        try:
            number = float(reset.strip())
        except ValueError:
            return None
        wait = number - now if number > _EPOCH_THRESHOLD else number
        return max(0.0, wait), "RateLimit-Reset"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after a failed attempt: 429, 5xx, timeouts, refused or dropped connections, cut-off bodies and
    non-JSON 2xx answers. Everything else (TLS failures, 4xx other than 429) gives up at once."""

    max_retries: int
    max_wait: float
    base_wait: float = 1.0

    @property
    def max_attempts(self) -> int:
        """The first attempt plus max_retries."""
        return self.max_retries + 1

    def retries(self, failure: Failure) -> bool:
        """Whether this failure is worth another attempt (if any are left)."""
        if failure.kind == "status":
            return failure.status == 429 or (failure.status or 0) >= 500
        return failure.kind in _RETRIED_KINDS

    @staticmethod
    def means_server_down(failure: Failure) -> bool:
        """Whether the failure counts toward the circuit breaker. A 429 proves the server alive; a TLS failure
        or a 4xx is an answer about the request, not about the server's health."""
        if failure.kind == "status":
            return (failure.status or 0) >= 500
        return failure.kind != "tls"

    def backoff_steps(self) -> Iterator[float]:
        """The exponential schedule for one request: base_wait, 2x, 4x ... capped at max_wait."""
        steps = backoff.expo(base=2, factor=self.base_wait, max_value=self.max_wait)
        next(steps)  # python-backoff's expo first yields a priming value; 1, 2, 4 ... follow
        return steps

    def wait(self, failure: Failure, steps: Iterator[float], now: float, rng: random.Random) -> Wait:
        """The wait before the next attempt: what the server asked for (Retry-After, then RateLimit-Reset), or the
        next exponential step with "equal jitter" (half the step plus up to another half: never near zero).

        Raises:
            RateLimitTooLongError: the server asked for more than max_wait.
        """
        requested = retry_after_seconds(failure.headers, now)
        if requested is not None:
            seconds, source = requested
            if seconds > self.max_wait:
                raise RateLimitTooLongError(
                    f"OpenProject asked to wait {seconds:.0f} s ({source}) before the next request, more than "
                    f"max_retry_wait ({self.max_wait:g} s): run later or raise max_retry_wait"
                )
            return Wait(seconds, f"server asked to wait ({source})", server_asked=True)
        step = float(next(steps))  # capped at max_wait by backoff_steps: one cap, in one place
        return Wait(step / 2 + rng.uniform(0, step / 2), "exponential backoff", server_asked=False)
