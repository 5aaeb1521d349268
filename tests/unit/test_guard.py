"""The shared rate-limit pause holds under any concurrency: no request starts inside a pause the tap knows of.

32 threads send requests through one Guard while a simulated gateway answers 429 with Retry-After, as the client
does (pause everyone, wait, try again). Time is virtual: a sleeping thread wakes when the simulated time reaches
its end, and time moves on only when every thread sleeps, so whatever happens at one instant is done before the
next one and "known at that time" is exact. Nothing really sleeps.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from itertools import pairwise

from tap_openproject.http import Failure, Guard, RetryPolicy
from tap_openproject.observability import Counters

THREADS = 32
REQUESTS_PER_THREAD = 6


class VirtualClock:
    """Simulated time shared by `participants` threads (each calls `done()` when it ends)."""

    def __init__(self, participants: int, start: float = 1_000.0) -> None:
        self._condition = threading.Condition()
        self._time = start
        self._awake = participants
        self._wake_ups: list[float] = []

    def now(self) -> float:
        with self._condition:
            return self._time

    monotonic = now

    def sleep(self, seconds: float) -> None:
        with self._condition:
            wake_up = self._time + max(0.0, seconds)
            if wake_up <= self._time:
                return
            self._wake_ups.append(wake_up)
            self._awake -= 1
            self._advance()
            while self._time < wake_up:  # counted awake again by the thread that moved time to wake_up
                if not self._condition.wait(timeout=30):
                    raise RuntimeError("virtual clock stalled")

    def done(self) -> None:
        with self._condition:
            self._awake -= 1
            self._advance()

    def _advance(self) -> None:
        if self._awake or not self._wake_ups:
            return
        self._time = min(self._wake_ups)
        woken = [w for w in self._wake_ups if w <= self._time]
        self._wake_ups = [w for w in self._wake_ups if w > self._time]
        self._awake += len(woken)
        self._condition.notify_all()


@dataclass
class Gateway:
    """A proxy in front of the server: every fifth answer is a 429 with a Retry-After of 2 to 9 seconds."""

    clock: VirtualClock
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0
    starts: list[float] = field(default_factory=list)  # when each attempt went out
    pauses: list[tuple[float, float]] = field(default_factory=list)  # (known from, lasts until)

    def attempt(self, rng: random.Random) -> Failure | None:
        """One request: recorded as it starts, in flight for a while, then answered."""
        with self.lock:
            self.starts.append(self.clock.now())
        self.clock.sleep(rng.uniform(0.2, 3.0))
        with self.lock:
            self.answered += 1
            throttled = self.answered % 5 == 0
        if not throttled:
            return None
        return Failure("status", "429 Too Many Requests", 429, {"Retry-After": str(rng.randint(2, 9))})

    def violations(self) -> list[tuple[float, float, float]]:
        """(start, pause known from, pause until) for every attempt that began inside an already known pause."""
        return [(s, known, until) for s in self.starts for known, until in self.pauses if known < s < until]


def client_thread(guard: Guard, gateway: Gateway, policy: RetryPolicy, seed: int) -> None:
    """What OpenProjectClient does per request: guard, attempt, and on a 429 pause everyone and wait."""
    rng = random.Random(seed)
    clock = gateway.clock
    try:
        for _ in range(REQUESTS_PER_THREAD):
            while True:
                guard.before_attempt()
                failure = gateway.attempt(rng)
                if failure is None:
                    break
                wait = policy.wait(failure, policy.backoff_steps(), clock.now(), rng)
                guard.pause(wait.seconds)
                with gateway.lock:
                    gateway.pauses.append((clock.now(), clock.now() + wait.seconds))
                clock.sleep(wait.seconds)
            clock.sleep(rng.uniform(0.0, 1.0))  # writing the page before the next request
    finally:
        clock.done()


def run_threads(guard: Guard, gateway: Gateway) -> None:
    policy = RetryPolicy(max_retries=1_000, max_wait=300)
    threads = [
        threading.Thread(target=client_thread, args=(guard, gateway, policy, seed), daemon=True)
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "the simulation hung"


def test_no_request_starts_inside_a_known_pause_under_32_threads():
    clock = VirtualClock(THREADS)
    counters = Counters()
    guard = Guard(breaker_threshold=1_000, clock=clock, counters=counters)
    gateway = Gateway(clock)

    run_threads(guard, gateway)

    assert len(gateway.starts) == counters.attempts >= THREADS * REQUESTS_PER_THREAD
    assert len(gateway.pauses) >= THREADS, "the gateway must have throttled repeatedly"
    extended = [p for p, q in pairwise(gateway.pauses) if p[0] < q[0] < p[1] < q[1]]
    assert extended, "the scenario must extend pauses while requests wait for them"
    assert gateway.violations() == []


def test_pauses_hold_with_a_throttle_too():
    clock = VirtualClock(THREADS)
    guard = Guard(breaker_threshold=1_000, clock=clock, counters=Counters(), max_requests_per_second=20)
    gateway = Gateway(clock)

    run_threads(guard, gateway)

    assert gateway.violations() == []
    starts = sorted(gateway.starts)
    assert all(b - a >= 1 / 20 - 1e-9 for a, b in pairwise(starts)), "slots stay spaced after pauses"


def test_a_request_that_waited_goes_at_once_when_the_pause_did_not_move():
    clock = VirtualClock(1)
    guard = Guard(breaker_threshold=5, clock=clock, counters=Counters())
    start = clock.now()
    guard.pause(5)

    guard.before_attempt()

    assert clock.now() == start + 5
    guard.before_attempt()
    assert clock.now() == start + 5, "after the pause, requests go out at once"
    clock.done()


def test_a_request_waits_again_when_a_429_extended_the_pause_while_it_slept():
    sleeps: list[float] = []

    class ExtendingClock(VirtualClock):
        """While the first wait runs, another thread's 429 pushes the pause 7 s further."""

        def sleep(self, seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:
                guard.pause(7)
            super().sleep(seconds)

    clock = ExtendingClock(1)
    guard = Guard(breaker_threshold=5, clock=clock, counters=Counters())
    start = clock.now()
    guard.pause(5)

    guard.before_attempt()

    assert sleeps == [5, 2], "slept to the first end, saw the new one, slept the rest"
    assert clock.now() == start + 7
    clock.done()
