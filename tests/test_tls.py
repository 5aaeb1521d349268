"""TLS certificates are verified: an untrusted certificate stops the run at once, with no retry and no request
that carries the key past the handshake."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading

import pytest

from tap_openproject.errors import SyncError
from tests.helpers import FakeClock, run_sync


@pytest.fixture
def self_signed_server(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    requests_seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests_seen.append(dict(self.headers))
            body = b'{"_type": "Collection", "total": 0, "count": 0, "_embedded": {"elements": []}}'
            if self.path.startswith("/api/v3/users/me"):
                body = b'{"id": 1, "login": "admin"}'
            elif self.path.startswith("/api/v3/statuses"):
                body = b'{"_type": "Collection", "total": 1, "count": 1, "_embedded": {"elements": [{"id": 1}]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/hal+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", requests_seen, cert
    server.shutdown()


def test_untrusted_certificate_fails_at_once_without_sending_the_key(self_signed_server):
    url, requests_seen, _ = self_signed_server
    clock = FakeClock()

    result = run_sync({"base_url": url, "api_key": "tls-test-key-123456"}, streams=["statuses"], clock=clock)

    assert isinstance(result.error, SyncError)
    assert "TLS failed" in str(result.error) and "not retried" in str(result.error)
    assert clock.sleeps == []
    assert requests_seen == []


def test_requests_ca_bundle_is_honoured_as_the_tls_error_advises(self_signed_server, monkeypatch):
    url, requests_seen, cert = self_signed_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))

    result = run_sync({"base_url": url, "api_key": "tls-test-key-123456"}, streams=["statuses"], clock=FakeClock())

    assert result.error is None, result.error
    assert result.ids("statuses") == [1]  # read over TLS verified against the bundle the variable names
    assert requests_seen
