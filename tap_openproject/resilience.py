"""One retry policy for every request: timeouts, Retry-After-aware backoff, a shared rate-limit pause and a
circuit breaker.

The `backoff` library drives the retries (through the SDK's `request_decorator` hooks); this module decides how
long each wait is and performs it through an injectable clock, so tests assert the exact waits requested without
sleeping. The breaker and the pause are shared by every stream of a run and are thread-safe without holding a lock
around a request: a breaker library that serialises calls (pybreaker keeps a lock across the call) would turn
concurrent page fetches back into a queue, so this small one counts under a lock and lets requests run free.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import typing as t
from dataclasses import dataclass, field

import backoff
import requests

from tap_openproject.errors import CircuitOpenError, RateLimitTooLongError

logger = logging.getLogger("tap-openproject")

#: Above this a RateLimit-Reset value is an epoch timestamp, below it a number of seconds.
_EPOCH_THRESHOLD = 10**9


class Clock:
    """Wall time, monotonic time and sleep: the real ones, replaceable in tests."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds, for durations."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block this thread for `seconds`."""
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class Counters:
    """What the resilience layer did in a run, for logs and metrics."""

    attempts: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    breaker_trips: int = 0
    waits: list[float] = field(default_factory=list)


def retry_after_seconds(response: requests.Response | None, now: float) -> tuple[float, str] | None:
    """The wait a response asks for: Retry-After (seconds or HTTP date), else RateLimit-Reset; None if neither."""
    if response is None:
        return None
    headers = response.headers
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


class Resilience:
    """Shared by all streams of one run: retry waits, the rate-limit pause and the circuit breaker."""

    def __init__(
        self,
        *,
        max_retries: int,
        max_retry_wait: float,
        breaker_threshold: int,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        base_wait: float = 1.0,
        max_requests_per_second: float | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.breaker_threshold = breaker_threshold
        self.clock = clock or Clock()
        self.rng = rng or random.Random()  # noqa: S311 - for jitter, not secrets  # nosec B311
        self.base_wait = base_wait
        self.counters = Counters()
        self._lock = threading.Lock()
        self._consecutive_failures = 0
        self._open = False
        self._last_failure = ""
        self._paused_until = 0.0
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._next_slot = 0.0

    # -- circuit breaker ------------------------------------------------------------------------------------
    def before_attempt(self) -> None:
        """Refuse to send while the breaker is open; wait while the server asked us to pause, and for this
        request's slot under max_requests_per_second (slots are handed out in order across threads)."""
        with self._lock:
            if self._open:
                raise self._open_error()
            self.counters.attempts += 1
            now = self.clock.now()
            start = max(now, self._paused_until)
            if self._interval:
                start = max(start, self._next_slot)
                self._next_slot = start + self._interval
        if start > now:
            self.clock.sleep(start - now)

    def record_success(self) -> None:
        """A request got an answer from a healthy server: the failure streak ends."""
        with self._lock:
            self._consecutive_failures = 0

    def record_failure(self, description: str) -> None:
        """A failed attempt; opens the breaker (and raises) at the threshold."""
        with self._lock:
            self._consecutive_failures += 1
            self._last_failure = description
            if self._consecutive_failures >= self.breaker_threshold and not self._open:
                self._open = True
                self.counters.breaker_trips += 1
            if self._open:
                raise self._open_error()

    @property
    def is_open(self) -> bool:
        """True once the breaker has tripped (it stays open for the rest of the run)."""
        return self._open

    def _open_error(self) -> CircuitOpenError:
        return CircuitOpenError(
            f"OpenProject is unavailable: {self._consecutive_failures} consecutive failed attempts "
            f"(last: {self._last_failure}); stopped the run, the last good state was written. "
            "Check the server, then run again"
        )

    # -- waits ----------------------------------------------------------------------------------------------
    def wait_generator(
        self,
        describe: t.Callable[[BaseException], str],
        on_wait: t.Callable[[float], None] | None = None,
    ) -> t.Generator[float, t.Any, None]:
        """A `backoff` wait generator that performs each wait itself through the clock and yields 0.

        `backoff` would call time.sleep(); waiting here instead makes the wait injectable and lets the
        rate-limit pause cover every request of the run, not just this one.
        """
        exception = yield 0.0
        exponential = backoff.expo(base=2, factor=self.base_wait, max_value=self.max_retry_wait)
        next(exponential)  # python-backoff's expo first yields a priming value; 1, 2, 4 ... follow
        while True:
            response = getattr(exception, "response", None)
            requested = retry_after_seconds(response, self.clock.now())
            if requested is not None:
                wait, source = requested
                if wait > self.max_retry_wait:
                    raise RateLimitTooLongError(
                        f"OpenProject asked to wait {wait:.0f} s ({source}) before the next request, more than "
                        f"max_retry_wait ({self.max_retry_wait:g} s): run later or raise max_retry_wait"
                    ) from None
                with self._lock:
                    self._paused_until = max(self._paused_until, self.clock.now() + wait)
                    self.counters.rate_limit_waits += 1
                reason = f"server asked to wait ({source})"
            else:
                step = min(float(next(exponential)), self.max_retry_wait)
                wait = step / 2 + self.rng.uniform(0, step / 2)  # "equal jitter": never near zero
                reason = "exponential backoff"
            with self._lock:
                self.counters.retries += 1
                self.counters.waits.append(wait)
                self.counters.waited_seconds += wait
            logger.warning("Retrying in %.1f s (%s) after: %s", wait, reason, describe(exception))
            if on_wait is not None:
                on_wait(wait)
            self.clock.sleep(wait)
            exception = yield 0.0
