"""SIGINT/SIGTERM: noted by the signal handler, acted on at safe points.

The handler only records the signal number: it does no I/O, takes no lock and raises nothing. An exception raised
from a signal handler lands in whatever the main thread is doing at that instant: halfway through writing a
Singer line, or between a logging handler's acquire() and its try (the lock stays held, and every thread that
logs afterwards waits forever). Instead, the tap checks the flag where stopping is safe: after each Singer message,
before each request attempt, and in every wait (retry sleeps, waits for pool results), which poll it at least
every `POLL` seconds. The run then writes its last state and the CLI exits 128 + signal.
"""

from __future__ import annotations

import time
import typing as t
from concurrent.futures import Future
from concurrent.futures import TimeoutError as ResultTimeout  # not the builtin before Python 3.11

from tap_openproject.errors import Interrupted

R = t.TypeVar("R")

#: Longest a wait goes without looking at the flag.
POLL = 0.1


class Interruption:
    """Whether SIGINT/SIGTERM arrived (process-wide, like signal handlers)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handle(self, signum: int) -> None:
        """Called from the signal handler: take note, nothing else."""
        self.signum = signum

    def check(self) -> None:
        """A safe point: stop here if a signal arrived.

        Raises:
            Interrupted: with the signal's number.
        """
        if self.signum is not None:
            raise Interrupted(self.signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, but stop within POLL seconds of a signal (raises Interrupted)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.check()
            time.sleep(min(left, POLL))
        self.check()

    def result(self, future: Future[R]) -> R:
        """The future's result; the wait stops within POLL seconds of a signal (raises Interrupted)."""
        while True:
            try:
                return future.result(timeout=POLL)
            except ResultTimeout:
                self.check()

    def clear(self) -> None:
        """The interruption is being handled: let the final state through."""
        self.signum = None


INTERRUPT = Interruption()
