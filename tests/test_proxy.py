"""Proxies from the environment are honoured, as `requests` does (SECURITY.md): requests then go through them."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request

import pytest

from tests.helpers import FakeClock, config_for, run_sync


@pytest.fixture
def forwarding_proxy():
    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - a forward proxy gets the absolute URL as its path
            seen.append(self.path)
            upstream = urllib.request.Request(self.path, headers={k: v for k, v in self.headers.items()})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never proxy ourselves
            try:
                with opener.open(upstream, timeout=10) as answer:
                    status, headers, body = answer.status, answer.headers, answer.read()
            except urllib.error.HTTPError as error:
                status, headers, body = error.code, error.headers, error.read()
            self.send_response(status)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_http_proxy_from_the_environment_carries_the_requests(op, forwarding_proxy, monkeypatch):
    proxy_url, seen = forwarding_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    result = run_sync(config_for(op), streams=["statuses"], clock=FakeClock())

    assert result.error is None, result.error
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    assert f"{op.url}/api/v3/users/me" in seen
    assert any(path.startswith(f"{op.url}/api/v3/statuses") for path in seen)
