"""Singer output: msgspec-encoded JSON lines written to stdout in large blocks, flushed at every STATE message.

The SDK's default writer encodes with simplejson and flushes stdout after every message. Here lines are gathered
and written in blocks, and stdout is flushed after STATE messages (and at the end), so a target never sees a
bookmark before the records it covers, and records cost no system call each. After each message the writer is a
safe point for SIGINT/SIGTERM (see interrupt.py): a line is always written whole. A closed stdout (the target
exited) ends the run with TargetGone.
"""

from __future__ import annotations

import contextlib
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import StateMessage

from tap_openproject.errors import TargetGone
from tap_openproject.interrupt import INTERRUPT

#: Bytes of Singer messages gathered before they are written (and always at STATE messages).
_BLOCK = 256 * 1024


class BlockWriter(MsgSpecWriter):
    """Singer messages as JSON lines, gathered into blocks; STATE flushes."""

    def __init__(self) -> None:
        super().__init__()
        self._text_flushed = False
        self._pending = bytearray()
        self._target_gone = False
        #: Whether the last message written was a STATE (a run must end with one: `tail -n 1` is the next state).
        self.ends_with_state = False

    def write_message(self, message: t.Any) -> None:  # noqa: ANN401 - the SDK's signature
        """Write one message (whole), then stop if a signal arrived meanwhile.

        Raises:
            TargetGone: stdout is closed (the target exited): the run ends, exit code 1.
        """
        if self._target_gone:
            raise TargetGone
        out = sys.stdout
        if getattr(out, "buffer", None) is None:  # a text-only stream (tests redirect stdout to StringIO)
            with self._target_check():
                out.write(self.format_message(message).decode())
        else:
            # Records are larger than stdout's 8 KiB buffer, which would pass each one straight to a write
            # system call; lines are gathered here and written in large blocks instead.
            self._pending += self.format_message(message)
            if len(self._pending) >= _BLOCK:
                self.flush()
        self.ends_with_state = isinstance(message, StateMessage)
        if self.ends_with_state:
            self.flush()
        INTERRUPT.check()

    def write_line(self, message: dict[str, t.Any]) -> None:
        """Write a message given as its dict (the record path builds RECORD messages so): the same line the
        SDK's msgspec writer encodes for the message object, without the object."""
        if self._target_gone:
            raise TargetGone
        if getattr(sys.stdout, "buffer", None) is None:
            self.ends_with_state = False
            with self._target_check():
                sys.stdout.write(encoder.encode(message).decode() + "\n")
        else:
            self.ends_with_state = False
            pending = self._pending
            encoder.encode_into(message, pending, -1)
            pending += b"\n"
            if len(pending) >= _BLOCK:
                self.flush()
        INTERRUPT.check()

    def flush(self) -> None:
        """Write out the gathered lines and flush stdout (at every STATE message and at the end of a run); once
        the target is gone, nothing (every exit path calls this)."""
        if self._target_gone:
            return
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        with self._target_check():
            if binary is not None and self._pending:
                if not self._text_flushed:  # anything printed through the text layer goes first
                    out.flush()
                    self._text_flushed = True
                block = bytes(self._pending)
                self._pending.clear()  # first: a write that fails half-way must not leave bytes to be written twice
                binary.write(block)
            out.flush()

    @contextlib.contextmanager
    def _target_check(self) -> t.Iterator[None]:
        """A closed pipe (EPIPE) or a closed stdout becomes TargetGone, once; other errors pass."""
        try:
            yield
        except BrokenPipeError:
            self._gone()
        except ValueError:
            if not sys.stdout.closed:
                raise
            self._gone()

    def _gone(self) -> t.NoReturn:
        self._target_gone = True
        self._pending.clear()
        raise TargetGone from None
