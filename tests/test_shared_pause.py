"""One 429 pauses every thread, and a pause extended by another 429 holds too: the real client, 32 threads, the
double answering every fifth request with 429 and a Retry-After. Time is virtual (tests/unit/test_guard.py):
the requests are real HTTP on 127.0.0.1, the waits cost nothing."""

from __future__ import annotations

import threading
import typing as t

from tap_openproject.http import Guard, OpenProjectClient, RetryPolicy
from tap_openproject.observability import Counters, RunStats
from tests.helpers import API_KEY
from tests.openproject_double import Fault
from tests.unit.test_guard import VirtualClock

THREADS = 32
REQUESTS_PER_THREAD = 6


class RecordingGuard(Guard):
    """Notes when each attempt goes out and each pause the client sets (at the same virtual instant)."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(breaker_threshold=1_000, clock=clock, counters=Counters())
        self.notes_lock = threading.Lock()
        self.starts: list[float] = []
        self.pauses: list[tuple[float, float]] = []

    def before_attempt(self) -> None:
        super().before_attempt()
        with self.notes_lock:
            self.starts.append(self.clock.now())

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        with self.notes_lock:
            self.pauses.append((self.clock.now(), self.clock.now() + seconds))


def test_32_threads_never_send_inside_a_known_pause(op):
    clock = VirtualClock(THREADS)
    guard = RecordingGuard(clock)
    client = OpenProjectClient(
        api_root=op.url + "/api/v3",
        api_key=API_KEY,
        user_agent="test",
        timeout=10,
        pool_size=THREADS,
        policy=RetryPolicy(max_retries=60, max_wait=300),
        guard=guard,
        stats=RunStats(clock=clock),
    )
    served = {"count": 0}
    lock = threading.Lock()

    def throttle_every_fifth(double: t.Any, request: t.Any) -> None:
        with lock:
            served["count"] += 1
            if served["count"] % 5 == 0:
                wait = 2 + served["count"] % 8
                double.add_fault(Fault("rate_limit", path=r"^/api/v3/statuses$", times=1, retry_after=str(wait)))

    op.on_request = throttle_every_fifth

    def work() -> None:
        try:
            for _ in range(REQUESTS_PER_THREAD):
                client.get("/statuses", label="statuses")
        finally:
            clock.done()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    client.close()

    assert not any(thread.is_alive() for thread in threads)
    throttled = [r for r in op.requests if r.status == 429]
    assert len([r for r in op.requests if r.status == 200]) == THREADS * REQUESTS_PER_THREAD
    assert len(throttled) >= THREADS and len(guard.pauses) == len(throttled)
    inside = [(s, known, until) for s in guard.starts for known, until in guard.pauses if known < s < until]
    assert inside == [], f"{len(inside)} attempts started inside a pause known before they went out"
