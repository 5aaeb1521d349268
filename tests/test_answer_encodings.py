"""Answers as servers behind a proxy send them: gzip-compressed (requests asks for it), chunked without a
Content-Length, or both. A page is read in one read (http/client.read_body); the body decoded is the same, and a
body that breaks off or does not decompress is a failure of the attempt, retried, never a partial page."""

from __future__ import annotations

import gzip
import json
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_openproject.errors import SyncError
from tap_openproject.http import Guard, OpenProjectClient, RetryPolicy
from tap_openproject.observability import Counters, RunStats
from tests.helpers import FakeClock

PAGE = {
    "_type": "Collection",
    "total": 2,
    "count": 2,
    "_embedded": {
        "elements": [{"_type": "Status", "id": 1, "name": "New"}, {"_type": "Status", "id": 2, "name": "Ünïcode"}]
    },
}


class Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: How the next answers are sent: "plain", "gzip", "chunked", "gzip+chunked", "broken gzip", "cut chunked".
    modes: list[str] = []
    served: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        mode = self.modes.pop(0) if self.modes else "plain"
        self.served.append(mode)
        body = json.dumps(PAGE).encode()
        headers = {"Content-Type": "application/hal+json; charset=utf-8"}
        if "gzip" in mode:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if mode == "broken gzip":
            body = body[: len(body) // 2] + b"\x00" * 8 + body[len(body) // 2 :]
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        if "chunked" in mode:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
            if mode == "cut chunked":
                pieces = pieces[: len(pieces) // 2]
            for piece in pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if mode == "cut chunked":
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Answers.modes, Answers.served = [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client_for(url: str, max_retries: int = 2) -> OpenProjectClient:
    clock = FakeClock()
    return OpenProjectClient(
        api_root=url + "/api/v3",
        api_key="abcdef123456",
        user_agent="test",
        timeout=10,
        pool_size=2,
        policy=RetryPolicy(max_retries=max_retries, max_wait=60),
        guard=Guard(breaker_threshold=10, clock=clock, counters=Counters()),
        stats=RunStats(clock=clock),
    )


def get_statuses(url: str, max_retries: int = 2) -> t.Any:
    """One GET of /statuses with a fresh client (closed afterwards): its answer, or the error it raised."""
    client = client_for(url, max_retries)
    try:
        return client.get("/statuses", label="statuses")
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["plain", "gzip", "chunked", "gzip+chunked"])
def test_every_encoding_of_an_answer_decodes_to_the_same_page(server, mode):
    Answers.modes = [mode]
    assert get_statuses(server).body == PAGE
    assert Answers.served == [mode]


@pytest.mark.parametrize("mode", ["broken gzip", "cut chunked"])
def test_a_body_that_breaks_off_or_does_not_decompress_is_retried(server, mode):
    Answers.modes = [mode]
    assert get_statuses(server).body == PAGE
    assert Answers.served == [mode, "plain"]


def test_a_body_that_keeps_breaking_off_fails_after_the_retries(server):
    Answers.modes = ["cut chunked"] * 3
    with pytest.raises(SyncError, match=r"GET /api/v3/statuses failed after 3 attempts: response body cut off"):
        get_statuses(server, max_retries=2)
    assert Answers.served == ["cut chunked"] * 3
