"""What every request of a run shares: the circuit breaker, the rate-limit pause and the politeness throttle.

Thread-safe without holding a lock around a request: a breaker library that serialises calls (pybreaker keeps
a lock across the call) would turn concurrent page fetches back into a queue, so this small one counts under a
lock and lets requests run free. Waits go through the injectable clock, so tests assert them without sleeping.
"""

from __future__ import annotations

import threading
import typing as t

from tap_openproject.errors import CircuitOpenError
from tap_openproject.interrupt import INTERRUPT

if t.TYPE_CHECKING:
    from tap_openproject.observability import Counters
    from tap_openproject.timeutil import Clock


class Guard:
    """One per run: refuses requests once the server is treated as down, and spaces them as asked."""

    def __init__(
        self,
        *,
        breaker_threshold: int,
        clock: Clock,
        counters: Counters,
        max_requests_per_second: float | None = None,
    ) -> None:
        self.breaker_threshold = breaker_threshold
        self.clock = clock
        self.counters = counters
        self._lock = threading.Lock()
        self._consecutive_failures = 0
        self._open = False
        self._last_failure = ""
        self._paused_until = 0.0
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._next_slot = 0.0

    def before_attempt(self) -> None:
        """Refuse to send while the breaker is open; wait while the server asked us to pause, and for this
        request's slot under max_requests_per_second (slots are handed out in order across threads). A safe
        point for SIGINT/SIGTERM: no request starts after one.

        A request that waited checks the shared pause again before it goes: another thread's 429 may have
        extended it meanwhile, and a request sent inside a pause the tap already knows only earns another 429.
        """
        INTERRUPT.check()
        waited_until: float | None = None
        while True:
            with self._lock:
                if self._open:
                    raise self._open_error()
                now = self.clock.now()
                if waited_until is None:
                    self.counters.attempts += 1
                # Past the pause, or slept to its end as it still stands (a clock may wake a hair early).
                elif now >= self._paused_until or waited_until >= self._paused_until:
                    return
                start = max(now, self._paused_until)
                if self._interval:  # a new slot after a longer pause: the old one would burst with the others
                    start = max(start, self._next_slot)
                    self._next_slot = start + self._interval
            if start <= now:
                return
            self.clock.sleep(start - now)
            waited_until = start

    def pause(self, seconds: float) -> None:
        """The server asked every request to wait `seconds` from now (a 429 with Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock.now() + seconds)

    def note_wait(self, seconds: float, *, server_asked: bool) -> None:
        """Count one wait before a retry."""
        with self._lock:
            self.counters.retries += 1
            self.counters.waits.append(seconds)
            self.counters.waited_seconds += seconds
            if server_asked:
                self.counters.rate_limit_waits += 1

    def record_success(self) -> None:
        """A request got an answer from a healthy server: the failure streak ends."""
        with self._lock:
            self._consecutive_failures = 0

    def record_failure(self, description: str) -> None:
        """A failed attempt that suggests the server is down; opens the breaker (and raises) at the threshold."""
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
