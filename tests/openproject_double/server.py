"""The HTTP side of the double: a threaded HTTP/1.1 server on 127.0.0.1, request recording, auth, faults."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import releases
from .api import HAL_JSON, Caller, Reply, answer, error_reply
from .data import Dataset
from .faults import MAINTENANCE_PAGE, REWRITES, Fault, FaultRules, error_html, error_json, rewrite_collection
from .query import ApiError
from .resources import FILTER_PRECISION
from .routes import ROUTES
from .routing import RouteTable
from .store import Store

#: Work packages rendered into the JSON cache before start() returns, so that a first 1000-element page
#: costs ~20 ms instead of ~200 ms of rendering. Larger datasets render the rest on first request (a
#: background warm-up thread was tried: it starves request threads of the GIL).
WARM_SYNC_LIMIT = 3000
#: Request counters for the benchmark harness (``stats_endpoint=True``): outside /api/v3, not recorded.
STATS_PATH = "/__stats"

ADMIN_USER_ID = 1
NON_ADMIN_USER_ID = 4  # the second generated user


@dataclass
class RecordedRequest:
    """One request as the double saw it, and how it answered (``status`` 0: connection closed, no answer)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)
    element_ids: list[int] | None = None  # ids of the elements a paginated collection answer carried


class OpenProjectDouble:
    """A local OpenProject API v3 server over real HTTP, with switchable behaviour and fault injection.

    ``release`` (12, 14, 16 or 17; None: the newest surface, unpinned) picks the API surface of one
    OpenProject line (``releases.py``: collections, properties, paging, select, filters, coreVersion).
    Switches (``admin``, ``login_required``, ``max_page_size``, ``projects_updated_at_filter``,
    ``supports_select``, ``rejects_select``, ``missing_collections``, ``latency_ms``, ``per_record_ms``,
    ``on_request`` ...) are plain attributes, read on every request, so tests may flip them while the server runs.
    ``supports_select = False`` imitates a server that ignores ``select`` (full elements); ``rejects_select =
    True`` one that answers 400 InvalidSignal to it. Each recorded paginated answer keeps the ids it served
    (``RecordedRequest.element_ids``), so a hook can act on what the client has already been given.
    ``filter_precision = "ms"`` makes datetime filters compare milliseconds instead of whole seconds (a server
    that compares the stored values); ``clock_offset_s`` shifts the clock of the ``Date`` header (negative: the
    server's clock runs behind the client's).
    """

    def __init__(self, dataset: Dataset | None = None, api_key: str = "test-key-for-double", *,
                 login_required: bool = True, admin: bool = True, max_page_size: int | None = None,
                 projects_updated_at_filter: bool | None = None, supports_select: bool | None = None,
                 missing_collections: tuple[str, ...] | list[str] = (), latency_ms: float = 0.0,
                 per_record_ms: float = 0.0, extra_api_keys: dict[str, bool] | None = None,
                 wrong_key_is_anonymous: bool = True, port: int = 0, prerender: int = 0,
                 stats_endpoint: bool = False, filter_precision: str = "s", clock_offset_s: float = 0.0,
                 release: int | None = None) -> None:
        self.release = releases.release(release)
        self.store = Store(dataset or Dataset.generate())
        self.release.apply(self.store)
        self.api_key = api_key
        self.login_required = login_required
        self.admin = admin
        # Unset switches follow the release; an explicit value wins (a 17 server whose admin lowered the maximum).
        self.max_page_size = self.release.max_page_size if max_page_size is None else max_page_size
        self.projects_updated_at_filter = (self.release.has("projects_updated_at") if projects_updated_at_filter
                                           is None else projects_updated_at_filter)
        self.supports_select = self.release.has("select") if supports_select is None else supports_select
        self.rejects_select = False
        self.missing_collections = tuple(missing_collections)
        # the paths it answers (routes.py, less what the release lacks); a test may give one double more
        self.routes: RouteTable = self.release.routes(ROUTES)
        self.latency_ms = latency_ms
        self.per_record_ms = per_record_ms
        self.extra_api_keys = dict(extra_api_keys or {})
        # With login not required, a wrong key falls back to anonymous (the spec of this double); set False
        # for servers that answer 401 to wrong credentials even then.
        self.wrong_key_is_anonymous = wrong_key_is_anonymous
        # Work packages serialised before start() returns, beyond the first WARM_SYNC_LIMIT (-1: all), so
        # that a benchmark measures server cost rather than first renders (~0.2 ms per work package).
        self.prerender = prerender
        self.stats_endpoint = stats_endpoint
        self.filter_precision = filter_precision
        self.clock_offset_s = clock_offset_s
        self.on_request: Callable[[OpenProjectDouble, RecordedRequest], Any] | None = None
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self.faults = FaultRules()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def filter_precision(self) -> str:
        """"s" (whole seconds, like OpenProject) or "ms": the precision at which datetime filters compare."""
        return self._filter_precision

    @filter_precision.setter
    def filter_precision(self, value: str) -> None:
        if value not in ("s", "ms"):
            raise ValueError(f"filter_precision must be 's' or 'ms', not {value!r}")
        with self.store.lock:
            self._filter_precision = value
            self.store.query_cache.clear()  # cached updatedAt positions were computed at the old precision

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> OpenProjectDouble:
        """Bind 127.0.0.1 (port 0 = ephemeral) and serve in a daemon thread."""
        if self._server is not None:
            return self
        ids = self.store.ids("work_packages")
        self.store.warm(ids[:WARM_SYNC_LIMIT])
        if self.prerender:
            stop = None if self.prerender < 0 else self.prerender
            self.store.prerender(ids[WARM_SYNC_LIMIT:stop])
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="openproject-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (open keep-alive connections die with their daemon threads)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> OpenProjectDouble:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._server is None:
            raise RuntimeError("the double is not running; call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without /api/v3, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    # --- requests and faults -------------------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        """Append a request to ``requests`` (thread-safe)."""
        with self._requests_lock:
            self.requests.append(request)

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        with self._requests_lock:
            self.requests.clear()

    def stats(self) -> dict[str, Any]:
        """Counts of recorded requests: total, per route (ids replaced by {id}) and per status."""
        with self._requests_lock:
            seen = list(self.requests)
        routes: dict[str, int] = {}
        statuses: dict[str, int] = {}
        for request in seen:
            route = _ID_SEGMENT.sub("/{id}", request.path)
            routes[route] = routes.get(route, 0) + 1
            statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
        return {"requests": len(seen), "by_route": routes, "by_status": statuses}

    def add_fault(self, fault: Fault) -> Fault:
        """Add a fault rule (checked after earlier ones) and return it."""
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove all fault rules."""
        self.faults.clear()

    # --- authentication --------------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an Authorization header; raises 401 ApiError when it must be refused."""
        key = _key_from_header(authorization)
        keys = {self.api_key: self.admin, **self.extra_api_keys}
        if key is not None and key in keys:
            admin = keys[key]
            return Caller(ADMIN_USER_ID if admin else NON_ADMIN_USER_ID, admin)
        if not self.login_required and (authorization is None or self.wrong_key_is_anonymous):
            return Caller(2, admin=False, anonymous=True)
        raise ApiError(401, "Unauthenticated", "You did not provide the correct credentials.",
                       headers={"WWW-Authenticate": 'Basic realm="OpenProject API"'})


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def _key_from_header(authorization: str | None) -> str | None:
    """The API key in ``Basic base64(apikey:KEY)`` or ``Bearer KEY``; None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == "apikey" else None


class _Handler(BaseHTTPRequestHandler):
    """Records each request, applies faults, asks :func:`api.answer` and writes the reply."""

    protocol_version = "HTTP/1.1"
    server_version = "OpenProjectDouble/1.0"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm meets the client's
    # delayed ACK and every keep-alive request stalls ~40 ms (a real server does not).
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections end eventually

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging (tests and benchmarks read ``op.requests``)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, on the double's clock (``clock_offset_s``)."""
        if timestamp is None:
            op: OpenProjectDouble = self.server.double  # type: ignore[attr-defined]
            timestamp = time.time() + op.clock_offset_s
        return super().date_time_string(timestamp)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        op: OpenProjectDouble = self.server.double  # type: ignore[attr-defined]
        precision = FILTER_PRECISION.set(op.filter_precision)
        try:
            self._handle()
        finally:
            FILTER_PRECISION.reset(precision)

    do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = do_GET  # noqa: N815

    def _handle(self) -> None:
        op: OpenProjectDouble = self.server.double  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # keep the connection usable for the next request
        split = urlsplit(self.path)
        if op.stats_endpoint and split.path == STATS_PATH:
            body = json.dumps(op.stats()).encode()
            self._send(RecordedRequest(self.command, split.path, {}, {}), 200, body, "application/json", {})
            return
        record = RecordedRequest(self.command, split.path, dict(parse_qsl(split.query, keep_blank_values=True)),
                                 dict(self.headers.items()))
        op.record(record)
        fault: Fault | None = None
        try:
            if op.on_request is not None:
                op.on_request(op, record)
            if op.latency_ms:
                time.sleep(op.latency_ms / 1000)
            fault = op.faults.match(record.path)
            if fault is not None:
                record.fault = fault.kind
                if self._apply_fault(op, fault, record):
                    return
            reply = self._reply(op, record)
            record.element_ids = reply.ids
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as exc:  # a bug in the double or a test hook: answer 500 and say where, never hang
            traceback.print_exc(file=sys.stderr)
            reply = error_reply(ApiError(500, "InternalServerError", f"openproject-double failed: {exc!r}"))
        if fault is not None and fault.kind in ("truncated_json", "short_body", "wrong_content_type"):
            self._send_mangled(fault.kind, reply, record)
            return
        if fault is not None and fault.kind in REWRITES and reply.status == 200:
            reply.body = rewrite_collection(fault, reply.body)
        if op.per_record_ms and reply.elements:
            time.sleep(op.per_record_ms * reply.elements / 1000)
        self._send(record, reply.status, reply.body, reply.content_type, reply.headers)

    def _reply(self, op: OpenProjectDouble, record: RecordedRequest) -> Reply:
        try:
            caller = op.authenticate(self.headers.get("Authorization"))
        except ApiError as error:
            return error_reply(error)
        return answer(op, record.method, record.path, record.query, caller)

    # --- faults ------------------------------------------------------------------------------------------
    def _apply_fault(self, op: OpenProjectDouble, fault: Fault, record: RecordedRequest) -> bool:
        """Answer a fault directly; False when the normal reply must still be built (and maybe mangled)."""
        params = fault.params
        if fault.kind == "status":
            status = int(params.get("status", 500))
            html = params.get("body", "json") == "html"
            body = error_html(status) if html else error_json(status, params.get("error"), params.get("message"))
            ctype = "text/html" if html else HAL_JSON
            self._send(record, status, body, ctype, dict(params.get("headers") or {}))
        elif fault.kind == "rate_limit":
            headers: dict[str, str] = {}
            if params.get("retry_after") is not None:
                headers["Retry-After"] = str(params["retry_after"])
            if params.get("ratelimit_reset") is not None:
                headers.update({"RateLimit-Limit": str(params.get("limit", 100)), "RateLimit-Remaining": "0",
                                "RateLimit-Reset": str(int(params["ratelimit_reset"]))})
            headers.update(params.get("headers") or {})
            self._send(record, 429, error_json(429, "Throttled", "You have exceeded the request limit."),
                       HAL_JSON, headers)
        elif fault.kind == "stall":
            time.sleep(float(params.get("seconds", 5)))
            return False
        elif fault.kind == "html_200":
            self._send(record, 200, params.get("html", MAINTENANCE_PAGE).encode(), "text/html; charset=utf-8", {})
        elif fault.kind == "redirect":
            status = int(params.get("status", 302))
            self._send(record, status, b"", "text/html; charset=utf-8", {"Location": str(params["location"])})
        elif fault.kind == "close":
            record.status = 0
            self.close_connection = True
        else:
            return False
        return True

    def _send_mangled(self, kind: str, reply: Reply, record: RecordedRequest) -> None:
        body = reply.body
        if kind == "wrong_content_type":
            self._send(record, reply.status, body, "text/plain; charset=utf-8", reply.headers)
        elif kind == "truncated_json":
            self._send(record, reply.status, body[: len(body) // 2], reply.content_type, reply.headers)
        else:  # short_body: promise everything, deliver half, hang up
            record.status = reply.status
            self.close_connection = True
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()

    def _send(self, record: RecordedRequest, status: int, body: bytes, content_type: str,
              headers: dict[str, str]) -> None:
        record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. after a stall)
            self.close_connection = True
