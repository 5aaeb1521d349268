"""Singer output: lines are gathered and reach stdout in order, and never later than the STATE message that
follows them (a target never sees a bookmark before the records it covers)."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_openproject.writer import BlockWriter


class BinaryStdout(io.TextIOWrapper):
    """A stdout with a binary buffer that records what was written and when it was flushed."""

    def __init__(self) -> None:
        self.raw_bytes = io.BytesIO()
        super().__init__(self.raw_bytes, encoding="utf-8")
        self.flushes: list[int] = []

    def flush(self) -> None:
        super().flush()
        self.flushes.append(len(self.raw_bytes.getvalue()))


@pytest.fixture
def stdout():
    """Installed by each test itself: pytest's output capture replaces sys.stdout again when a test starts."""
    return BinaryStdout()


@contextlib.contextmanager
def writing_to(fake: BinaryStdout):
    real, sys.stdout = sys.stdout, fake
    try:
        yield
    finally:
        sys.stdout = real


def lines(stdout: BinaryStdout) -> list[dict]:
    return [json.loads(line) for line in stdout.raw_bytes.getvalue().decode().splitlines()]


def test_records_wait_for_the_next_state_and_arrive_before_it_in_order(stdout):
    writer = BlockWriter()
    with writing_to(stdout):
        for number in range(3):
            writer.write_message(RecordMessage(stream="work_packages", record={"id": number}))
        gathered = stdout.raw_bytes.getvalue()
        writer.write_message(StateMessage(value={"bookmarks": {"work_packages": {"replication_key_value": "x"}}}))

    assert gathered == b"", "records alone are gathered, not written one system call each"

    written = lines(stdout)
    assert [m["type"] for m in written] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["id"] for m in written[:3]] == [0, 1, 2]
    assert stdout.flushes and stdout.flushes[-1] == len(stdout.raw_bytes.getvalue()), "flushed at the STATE"


def test_large_volumes_are_written_in_blocks_before_any_state(stdout):
    writer = BlockWriter()
    record = {"id": 1, "subject": "x" * 2000}
    with writing_to(stdout):
        for _ in range(300):  # ~600 KiB: more than one block
            writer.write_message(RecordMessage(stream="work_packages", record=record))
        written = stdout.raw_bytes.getvalue()
        writer.flush()

    assert written and written.endswith(b"\n"), "whole lines, in blocks"
    assert len(written.splitlines()) < 300, "the tail still waits for a block or a STATE"
    assert len(stdout.raw_bytes.getvalue().splitlines()) == 300
