"""SIGINT/SIGTERM handling that never tears a Singer message in half.

The SDK's handler writes state from inside the signal handler and exits 0. Writing to stdout from a signal
handler can interrupt a write already in progress, and exit 0 makes a killed run look successful. Here the handler
does no I/O: outside a message write it raises `Interrupted` at once; during one, it lets the line finish and
raises right after. The tap then writes the last state on its normal way out and exits 128 + signal.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import StateMessage

from tap_openproject.errors import Interrupted


class SignalGuard:
    """Tracks whether a message is being written and whether a signal is waiting for that to end."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.writing = False

    def handle(self, signum: int) -> None:
        """Called from the signal handler."""
        self.pending = signum
        if not self.writing:
            raise Interrupted(signum)

    def clear(self) -> None:
        """The interruption is being handled: let the final state through."""
        self.pending = None


GUARD = SignalGuard()
#: Bytes of Singer messages gathered before they are written (and always at STATE messages).
_BLOCK = 256 * 1024


class GuardedSingerWriter(MsgSpecWriter):
    """Singer messages as msgspec-encoded JSON lines, each written whole before a pending signal takes effect.

    The SDK's default writer encodes with simplejson and flushes stdout after every message; here stdout is
    flushed after STATE messages only (and at the end), so a target never sees a bookmark before the records
    it covers, and records cost no system call each.
    """

    def __init__(self) -> None:
        super().__init__()
        self._text_flushed = False
        self._pending = bytearray()

    def write_message(self, message: t.Any) -> None:  # noqa: ANN401 - the SDK's signature
        """Write one message; raise a signal that arrived meanwhile only once the line is complete."""
        GUARD.writing = True
        try:
            out = sys.stdout
            if getattr(out, "buffer", None) is None:  # a text-only stream (tests redirect stdout to StringIO)
                out.write(self.format_message(message).decode())
            else:
                # Records are larger than stdout's 8 KiB buffer, which would pass each one straight to a write
                # system call; lines are gathered here and written in large blocks instead.
                self._pending += self.format_message(message)
                if len(self._pending) >= _BLOCK:
                    self.flush()
            if isinstance(message, StateMessage):
                self.flush()
        finally:
            GUARD.writing = False
        if GUARD.pending is not None:
            raise Interrupted(GUARD.pending)

    def flush(self) -> None:
        """Write out the gathered lines and flush stdout (at every STATE message and at the end of a run)."""
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        if binary is not None and self._pending:
            if not self._text_flushed:  # anything printed through the text layer goes first
                out.flush()
                self._text_flushed = True
            binary.write(self._pending)
            self._pending.clear()
        out.flush()
