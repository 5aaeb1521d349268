"""OpenProjectStream: authentication, HAL collections, paging, filters and sorting, in one place.

A stream subclass is a declaration (path, record shape, replication key, which filters the endpoint takes); the
mechanics live here. Data flows one way: settings -> session -> request (filters, sort, page) -> HAL page ->
flat records -> SDK -> stdout.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import typing as t
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import backoff
import msgspec
import requests
import requests.adapters
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream

from tap_openproject.concurrency import Lookahead, ordered_map
from tap_openproject.errors import AuthError, SyncError, UnsafeRequestError
from tap_openproject.hal import RecordShape, datetime_value

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.tap import TapOpenProject

logger = logging.getLogger("tap-openproject")

JSON_CONTENT_TYPES = frozenset({"application/hal+json", "application/json"})
ERROR_PREFIX = "urn:openproject-org:api:v3:errors:"
#: Failures worth another attempt. SSL errors are ConnectionErrors too but are given up at once (see giveup).
RETRIABLE = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: State key holding which records were delivered within the bookmark's second (see `_increment_stream_state`).
BOUNDARY = "delivered_in_bookmark_second"
#: Above this many records sharing one second, the boundary is not kept: the next run may repeat some of them
#: (duplicates, never gaps), and STATE stays small.
MAX_BOUNDARY = 10_000
_BODY = "_openproject_body"
#: Child collections fetched ahead and not yet read; older ones are dropped (and fetched again if ever read).
_MAX_PREFETCHED = 256
#: Pages of records (up to page_size each) in flight or waiting at once: memory stays flat whatever the size of
#: the instance, and beyond this depth a page-sized response no longer finishes sooner. Small requests (child
#: collections, rank samples) use the full max_concurrency.
_PAGES_IN_FLIGHT = 4
#: Passes over a same-second burst longer than a page (see `_burst`).
_BURST_PASSES = 3


class ApiKeyAuth(requests.auth.AuthBase):
    """HTTP Basic `apikey:<token>`, OpenProject's API-token scheme. Its repr never shows the token."""

    def __init__(self, api_key: str) -> None:
        token = base64.b64encode(f"apikey:{api_key}".encode()).decode()
        self._header = f"Basic {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "ApiKeyAuth(apikey:[REDACTED])"


def within(url: str, root: str) -> bool:
    """True when `url` is under `root`: same scheme, host and port, and a path below root's path."""
    target, base = urlsplit(url), urlsplit(root)
    if (target.scheme, target.hostname, target.port) != (base.scheme, base.hostname, base.port):
        return False
    base_path = base.path.rstrip("/") + "/"
    return (target.path.rstrip("/") + "/").startswith(base_path)


class ScopedSession(requests.Session):
    """A session whose redirects never leave the instance: credentials stay on base_url's scheme and host."""

    def __init__(self, root: str, pool_size: int = 10) -> None:
        super().__init__()
        self.root = root
        self.max_redirects = 5
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """Follow a redirect only when it stays under base_url; refuse it otherwise."""
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        absolute = urljoin(resp.url, target)
        if not within(absolute, self.root):
            where = urlsplit(absolute)
            raise UnsafeRequestError(
                f"OpenProject redirected {urlsplit(resp.url).path} to {where.scheme}://{where.netloc}{where.path}, "
                "outside base_url; the API key is not sent there. If that is the real address, set base_url to it"
            )
        return target


@dataclass(frozen=True)
class Page:
    """One decoded HAL collection answer."""

    elements: list[dict[str, t.Any]]
    total: int | None
    page_size: int | None
    offset: int

    @property
    def paginated(self) -> bool:
        """Paginated collections report pageSize; unpaginated ones return everything at once."""
        return self.page_size is not None

    @property
    def is_last(self) -> bool:
        """No further page exists (decided from this answer alone: no extra empty request)."""
        if not self.paginated or not self.elements or not self.page_size:
            return True
        if len(self.elements) < self.page_size:
            return True
        return self.total is not None and self.offset * self.page_size >= self.total


def error_details(response: requests.Response) -> str:
    """A short description of an error response: status, errorIdentifier and a clipped message, no body dump."""
    parts = [f"{response.status_code} {response.reason or ''}".strip()]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        identifier = str(body.get("errorIdentifier") or "")
        if identifier:
            parts.append(identifier.removeprefix(ERROR_PREFIX))
        message = body.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        if message:
            text = " ".join(str(message).split())
            parts.append(repr(text[:160] + ("..." if len(text) > 160 else "")))
    elif response.content:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        parts.append(f"({kind} body, {len(response.content)} bytes)")
    return " ".join(parts)


_FAILURE_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (requests.exceptions.Timeout, "request timed out"),
    (requests.exceptions.SSLError, "TLS error (certificate not trusted or handshake failed)"),
    (requests.exceptions.ChunkedEncodingError, "response body cut off or undecodable"),
    (requests.exceptions.ContentDecodingError, "response body cut off or undecodable"),
)


def describe_failure(exc: BaseException) -> str:
    """One line for a failed attempt, without URLs' hosts repeated or bodies dumped."""
    if isinstance(exc, (RetriableAPIError, FatalAPIError)):
        return str(exc)
    for kind, description in _FAILURE_KINDS:
        if isinstance(exc, kind):
            return description
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection refused"
        if any(word in text for word in ("remotedisconnected", "reset", "aborted")):
            return "connection closed by the server without an answer"
        return "connection failed"
    return type(exc).__name__


class OpenProjectHTTPError(FatalAPIError):
    """A non-retriable HTTP answer (400, 401, 403, 404, 422 ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class OpenProjectStream(RESTStream[int]):
    """Base class: one OpenProject API v3 collection."""

    #: What the records look like; subclasses declare it.
    shape: t.ClassVar[RecordShape]
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)  # type: ignore[misc]
    records_jsonpath = "$._embedded.elements[*]"
    #: Filter name that restricts this endpoint to projects (project_ids), if the server has one.
    project_filter: t.ClassVar[str | None] = None
    #: Record column to restrict by project on the client side when the endpoint has no such filter.
    project_column: t.ClassVar[str | None] = None
    #: Collections with no project filter but a per-project route ("/projects/{project_id}/..."): with project_ids,
    #: only the scoped projects' routes are read (the client-side check on project_column stays for exactness).
    per_project_path: t.ClassVar[str | None] = None
    #: Work packages: without `filters` the server returns only open ones, so always send it.
    always_send_filters: t.ClassVar[bool] = False
    #: Projects: older servers reject the updatedAt filter (400); fall back to a full-table read.
    incremental_optional: t.ClassVar[bool] = False

    #: Records leave `RecordShape.flatten` as JSON-native values of exactly the declared types (and custom fields
    #: typed from the instance's schemas), so the SDK's per-record conformance pass is skipped: it cost more than
    #: everything else per record.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Which resource's custom fields this stream carries (see custom_fields.py); defaults to the stream name.
    custom_field_resource: t.ClassVar[str | None] = None

    def __init__(self, tap: TapOpenProject) -> None:
        schema = self.shape.json_schema()
        if self.shape.custom_fields:
            schema["properties"].update(tap.custom_fields.properties(self.custom_field_resource or self.name))
        super().__init__(tap, schema=schema)
        self._op_tap = tap
        self._known_columns: frozenset[str] | None = None
        self._warned_columns: set[str] = set()
        self._prefetched: dict[tuple[tuple[str, t.Any], ...], Future[list[dict[str, t.Any]]]] = {}
        self._schema_written = False
        self._deselects: bool | None = None
        self._decorated: t.Callable[..., requests.Response] | None = None
        self._page_size_noted = False

    # -- request plumbing (SDK hooks) -------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        """The API root, e.g. https://host/api/v3."""
        return self._op_tap.settings.api_root

    @property
    def authenticator(self) -> ApiKeyAuth:
        """One cached auth object per run (the SDK evaluates this on every request)."""
        return self._op_tap.auth

    @property
    def requests_session(self) -> requests.Session:
        """The run's shared session, whose redirects stay under base_url."""
        return self._op_tap.session

    @property
    def http_headers(self) -> dict[str, str]:
        """HAL+JSON in, gzip allowed, our User-Agent."""
        return {"Accept": "application/hal+json, application/json;q=0.9", "User-Agent": self.user_agent}

    @property
    def user_agent(self) -> str:  # type: ignore[override]
        """From settings, else tap-openproject/<version>."""
        return self._op_tap.settings.user_agent

    @property
    def timeout(self) -> tuple[float, float]:  # type: ignore[override]
        """(connect, read) timeouts: a stalled server costs at most `timeout` per attempt."""
        seconds = self._op_tap.settings.timeout
        return (seconds, seconds)

    def response_error_message(self, response: requests.Response) -> str:
        """Status, errorIdentifier and a clipped message for the request's path; never the whole body."""
        return f"{error_details(response)} for GET {urlsplit(response.url).path}"

    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer: retriable (429, 5xx, non-JSON or undecodable 200), fatal (4xx), or good."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 300:
            raise OpenProjectHTTPError(self.response_error_message(response), status)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        path = urlsplit(response.url).path
        if content_type not in JSON_CONTENT_TYPES:
            raise RetriableAPIError(
                f"{status} answer with {content_type or 'no'} content type instead of JSON for GET {path} "
                "(a proxy, maintenance or login page?)",
                response,
            )
        try:
            body = msgspec.json.decode(response.content)
        except (msgspec.DecodeError, ValueError):
            raise RetriableAPIError(
                f"{status} answer with truncated or undecodable JSON for GET {path}", response
            ) from None
        setattr(response, _BODY, body)

    def backoff_max_tries(self) -> int:
        """Attempts per request: the first one plus max_retries."""
        return self._op_tap.settings.max_retries + 1

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:  # type: ignore[override]
        """Retry-After / RateLimit-Reset aware waits, performed through the run's clock (see resilience)."""
        stats = self._op_tap.stats
        return self._op_tap.resilience.wait_generator(describe_failure, lambda s: stats.waited(self.name, s))

    def request_decorator(self, func: t.Callable[..., requests.Response]) -> t.Callable[..., requests.Response]:
        """Each attempt passes the circuit breaker; `backoff` retries what is worth retrying."""
        resilience = self._op_tap.resilience

        def attempt(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            resilience.before_attempt()
            try:
                response = func(prepared_request, context)
            except RetriableAPIError as exc:
                self._op_tap.stats.failed_attempt(self.name)
                if exc.response is None or exc.response.status_code != 429:  # a 429 means the server is alive
                    resilience.record_failure(describe_failure(exc))
                raise
            except RETRIABLE as exc:
                self._op_tap.stats.failed_attempt(self.name)
                if not isinstance(exc, requests.exceptions.SSLError):
                    resilience.record_failure(describe_failure(exc))
                raise
            except FatalAPIError:
                resilience.record_success()
                raise
            resilience.record_success()
            return response

        return backoff.on_exception(
            self.backoff_wait_generator,
            RETRIABLE,
            max_tries=self.backoff_max_tries,
            jitter=None,
            giveup=lambda exc: isinstance(exc, requests.exceptions.SSLError),
            logger=None,
        )(attempt)

    # -- fetching -----------------------------------------------------------------------------------------------
    def fetch(self, path: str, params: dict[str, t.Any], context: Context | None) -> Page:
        """GET one collection page (with retries) and decode it."""
        response = self.fetch_json(path, params, context)
        body = getattr(response, _BODY)
        embedded = body.get("_embedded") if isinstance(body, dict) else None
        elements = embedded.get("elements") if isinstance(embedded, dict) else None
        if not isinstance(elements, list):
            raise SyncError(
                f"GET {urlsplit(response.url).path} did not answer with a collection (_embedded.elements "
                "missing): is base_url an OpenProject instance?"
            )
        page_size = body.get("pageSize")
        if isinstance(page_size, int) and page_size < params.get("pageSize", page_size) and not self._page_size_noted:
            self._page_size_noted = True
            self.logger.info("The server capped pageSize at %d (asked for %d)", page_size, params["pageSize"])
        return Page(
            elements=elements,
            total=body.get("total"),
            page_size=page_size if isinstance(page_size, int) else None,
            offset=body.get("offset") or params.get("offset") or 1,
        )

    def fetch_json(self, path: str, params: dict[str, t.Any], context: Context | None) -> requests.Response:
        """GET a path under the API root with retries; failures after retries become one-line SyncErrors."""
        url = self.url_base + path
        prepared = self.build_prepared_request(method="GET", url=url, params=params, headers=self.http_headers)
        if not within(prepared.url or "", self.url_base):
            raise UnsafeRequestError(f"refusing to request {path}: it is outside base_url")
        if self._decorated is None:
            self._decorated = self.request_decorator(self._request)
        try:
            response = self._decorated(prepared, context)
        except requests.exceptions.SSLError:
            raise SyncError(
                f"TLS failed for {urlsplit(self.url_base).netloc}: the server's certificate is not trusted or the "
                "handshake failed (not retried). Fix the certificate, or point REQUESTS_CA_BUNDLE at your CA bundle"
            ) from None
        except (RetriableAPIError, *RETRIABLE[2:]) as exc:
            tries = self.backoff_max_tries()
            full_path = urlsplit(url).path
            reason = describe_failure(exc).removesuffix(f" for GET {full_path}")
            raise SyncError(
                f"GET {full_path} failed after {tries} attempt{'s' if tries != 1 else ''}: {reason}; check that "
                f"OpenProject at {urlsplit(self.url_base).netloc} is up, then run again (the last good state was "
                "written)"
            ) from None
        self._op_tap.count_request(self.name)
        return response

    def fetch_optional(self, path: str, params: dict[str, t.Any] | None = None) -> dict[str, t.Any] | None:
        """GET a resource that may not exist on this server or for this token (404/403 -> None)."""
        try:
            return getattr(self.fetch_json(path, params or {}, None), _BODY)  # type: ignore[no-any-return]
        except OpenProjectHTTPError as exc:
            if exc.status in (403, 404):
                return None
            raise SyncError(f"GET {path}: {exc}") from None

    def fetch_optional_elements(self, path: str, params: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Every element of a collection that may not exist (404/403 -> []), following pages."""
        elements: list[dict[str, t.Any]] = []
        offset = 1
        while True:
            query = {"pageSize": self._op_tap.settings.page_size, "offset": offset, **(params or {})}
            try:
                page = self.fetch(path, query, None)
            except OpenProjectHTTPError as exc:
                if exc.status in (403, 404):
                    return elements
                raise SyncError(f"GET {path}: {exc}") from None
            elements.extend(page.elements)
            if page.is_last:
                return elements
            offset += 1

    def collection_ids(self, path: str) -> list[int]:
        """Ids of a collection's elements (project-scoped where configured)."""
        params: dict[str, t.Any] = {}
        project_ids = self._op_tap.settings.project_ids
        if path == "/projects" and project_ids:
            params["filters"] = json.dumps([{"id": {"operator": "=", "values": [str(p) for p in project_ids]}}])
        return [e["id"] for e in self.fetch_optional_elements(path, params) if isinstance(e.get("id"), int)]

    # -- records -----------------------------------------------------------------------------------------------
    def base_filters(self, context: Context | None) -> list[dict[str, t.Any]]:  # noqa: ARG002
        """Filters every request of this stream carries (project scoping)."""
        project_ids = self._op_tap.settings.project_ids
        if project_ids and self.project_filter:
            return [{self.project_filter: {"operator": "=", "values": [str(p) for p in project_ids]}}]
        return []

    def page_params(
        self,
        *,
        filters: list[dict[str, t.Any]],
        offset: int = 1,
        sort_by: list[list[str]] | None = None,
    ) -> dict[str, t.Any]:
        """Query parameters: filters (always `filters`, never `filter`), pageSize, page-number offset, sortBy."""
        params: dict[str, t.Any] = {"pageSize": self._op_tap.settings.page_size, "offset": offset}
        if filters or self.always_send_filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        if sort_by:
            params["sortBy"] = json.dumps(sort_by, separators=(",", ":"))
        return params

    def resolved_path(self, context: Context | None) -> str:
        """The collection path with context values filled in."""
        return self.path.format(**(context or {}))  # type: ignore[union-attr]

    @property
    def concurrency(self) -> int:
        """Requests this stream may have in flight (max_concurrency)."""
        return self._op_tap.settings.max_concurrency

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Every record of this stream (for a child: of this parent), or none if the stream is unavailable."""
        tap = self._op_tap
        tap.ensure_authenticated()
        if tap.is_unavailable(self.name):
            return
        try:
            prefetched = self._prefetched.pop(_context_key(context), None) if context else None
            if prefetched is not None:
                records: t.Iterable[dict[str, t.Any]] = prefetched.result()
            elif self.replication_key:
                records = self._incremental_records(context)
            elif self.per_project_path and tap.settings.project_ids:
                records = self._per_project_records()
            else:
                records = self._full_table_records(context, self.base_filters(context))
            yield from self._with_child_prefetch(records)
        except _Unavailable as unavailable:
            tap.mark_unavailable(self.name, unavailable.reason, context)

    def _per_project_records(self) -> t.Iterator[dict[str, t.Any]]:
        """The scoped projects' routes, each element once (a shared version appears under several projects)."""
        seen: set[t.Any] = set()
        for project_id in self._op_tap.settings.project_ids:
            path = t.cast("str", self.per_project_path).format(project_id=project_id)
            for element in self.fetch_optional_elements(path):
                if element.get("id") not in seen:
                    seen.add(element.get("id"))
                    yield self.shape.flatten(element)

    # -- children: fetched ahead, on the pool, consumed in order by the SDK ----------------------------------------
    def prefetch(self, context: Context) -> None:
        """Start fetching this child collection for `context` on the pool; `get_records` picks it up."""
        if self._op_tap.is_unavailable(self.name):
            return
        key = _context_key(context)
        if key in self._prefetched:
            return
        self._prefetched[key] = self._op_tap.executor.submit(
            lambda: list(self._full_table_records(context, self.base_filters(context), parallel=False))
        )
        while len(self._prefetched) > _MAX_PREFETCHED:  # a parent filtered out by a stream map is never read
            self._prefetched.pop(next(iter(self._prefetched))).cancel()

    def _with_child_prefetch(self, records: t.Iterable[dict[str, t.Any]]) -> t.Iterable[dict[str, t.Any]]:
        children = [c for c in self.child_streams if c.selected and isinstance(c, OpenProjectStream)]
        if not children or self.concurrency == 1:
            return records

        def start(record: dict[str, t.Any]) -> None:
            context = self.get_child_context(record, None)
            if context is not None:
                for child in children:
                    child.prefetch(context)

        return Lookahead(records, start, depth=2 * self.concurrency)

    def _write_schema_message(self) -> None:
        """Once per run: the SDK would repeat a child's SCHEMA for every parent."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    # -- writing -----------------------------------------------------------------------------------------------------
    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[RecordMessage, None, None]:
        """The SDK's RECORD generation, minus work that does nothing here: popping deselected properties when
        the catalog deselects none, and conformance (see TYPE_CONFORMANCE_LEVEL)."""
        if self._deselects is None:
            self._deselects = any(not selected for breadcrumb, selected in self.mask.items() if breadcrumb)
        if self._deselects:
            pop_deselected_record_properties(record, self.schema, self.mask)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """Write the record, then count it (progress lines, summary, metrics)."""
        super()._write_record_message(record)
        self._op_tap.stats.record(self.name)

    # -- paging ------------------------------------------------------------------------------------------------------
    def _first_page(self, path: str, params: dict[str, t.Any], context: Context | None) -> Page:
        """The first request of a collection decides whether this server has it and lets us read it."""
        try:
            page = self.fetch(path, params, context)
            if context is None and page.total is not None:
                self._op_tap.stats.of(self.name).total = page.total
            return page
        except OpenProjectHTTPError as exc:
            if exc.status in (403, 404):
                raise _Unavailable(str(exc)) from None
            raise

    def _next_page(self, path: str, params: dict[str, t.Any], context: Context | None) -> Page:
        try:
            return self.fetch(path, params, context)
        except OpenProjectHTTPError as exc:
            raise SyncError(f"{self.name}: {exc}") from None

    def _full_table_records(
        self, context: Context | None, filters: list[dict[str, t.Any]], *, parallel: bool = True
    ) -> t.Iterator[dict[str, t.Any]]:
        """Page-number paging; once the first page tells the total, the other pages are fetched in parallel."""
        path = self.resolved_path(context)
        try:
            page = self._first_page(path, self.page_params(filters=filters), context)
        except OpenProjectHTTPError as exc:
            raise SyncError(f"{self.name}: {exc}") from None
        yield from map(self.shape.flatten, page.elements)
        if page.is_last:
            return
        offset = 1
        if parallel and self.concurrency > 1 and page.total and page.page_size:
            last = -(-page.total // page.page_size)

            def fetch(number: int) -> tuple[list[dict[str, t.Any]], Page]:
                fetched = self._next_page(path, self.page_params(filters=filters, offset=number), context)
                # Flattened on the worker: a page waiting for its turn holds flat records, not HAL documents.
                return [self.shape.flatten(e) for e in fetched.elements], fetched

            depth = min(self.concurrency, _PAGES_IN_FLIGHT)
            for records, fetched in ordered_map(self._op_tap.executor, fetch, range(2, last + 1), depth):
                yield from records
                page = fetched  # the last page decides below whether the collection grew meanwhile
            offset = last
        while not page.is_last:  # sequential, or the collection grew while we read it
            offset += 1
            page = self._next_page(path, self.page_params(filters=filters, offset=offset), context)
            yield from map(self.shape.flatten, page.elements)

    def _incremental_records(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """Records updated since the bookmark (or start_date), in (updatedAt, id) order, each version once.

        Never offset pages over a result that moves while we read it: a record edited meanwhile would shift an
        unseen one past us. Instead, pages restart at the second of the last record (keyset), and with
        max_concurrency > 1 the range up to the newest record is split into time windows (planned from cheap
        one-record rank samples) fetched in parallel and delivered in order. Windows overlap by one second, so no
        record falls between two whatever precision the server compares at; records edited during the sync move
        past the newest second and are read by the open-ended window, which runs last.
        """
        key = t.cast("str", self.replication_key)
        path = self.resolved_path(context)
        start = self.get_starting_timestamp(context)
        lower = _second(start.isoformat()) if start else None
        base = self.base_filters(context)
        try:
            page = self._first_page(path, self._window_params(base, lower, None), context)
        except OpenProjectHTTPError as exc:
            if not (self.incremental_optional and exc.status == 400):
                raise SyncError(f"{self.name}: {exc}") from None
            self.logger.warning(
                "This server cannot filter or sort %s by %s (%s): falling back to a full-table read",
                self.name,
                key,
                exc,
            )
            yield from self._full_table_records(context, base)
            return
        boundary = self.get_context_state(context).get(BOUNDARY) or {}
        emitted = _Boundary(boundary.get("second", ""), dict(boundary.get("records", {})))
        yield from self._fresh(page.elements, emitted)
        if page.is_last:
            return
        reached = _second(_timestamp(page.elements[-1], key))
        if self.concurrency > 1 and page.total and page.page_size:
            windows = self._plan_windows(path, base, lower, reached, page.total, page.page_size, context)

            def fetch(window: tuple[str, str]) -> list[dict[str, t.Any]]:
                # Flattened on the worker: a window waiting for its turn holds flat records, not HAL documents.
                elements = self._keyset_elements(path, base, window[0], window[1], context)
                return [self.shape.flatten(e) for e in elements]

            depth = min(self.concurrency, _PAGES_IN_FLIGHT)
            for records in ordered_map(self._op_tap.executor, fetch, windows, depth):
                yield from self._fresh(records, emitted, flat=True)
            if windows:
                reached = windows[-1][1]
        yield from self._fresh(self._keyset_elements(path, base, reached, None, context), emitted)

    def _window_params(
        self, base: list[dict[str, t.Any]], lower: str | None, upper: str | None, offset: int = 1
    ) -> dict[str, t.Any]:
        key = t.cast("str", self.replication_key)
        between = [{key: {"operator": "<>d", "values": [lower + "Z", upper + "Z" if upper else ""]}}] if lower else []
        return self.page_params(filters=base + between, offset=offset, sort_by=[[key, "asc"], ["id", "asc"]])

    def _keyset_elements(
        self, path: str, base: list[dict[str, t.Any]], lower: str, upper: str | None, context: Context | None
    ) -> t.Iterator[dict[str, t.Any]]:
        """Elements updated in [lower, upper] (seconds, inclusive; upper None = open), each version once."""
        key = t.cast("str", self.replication_key)
        seen: dict[t.Any, str] = {}  # versions yielded within the current restart second (and a burst's)
        while True:
            page = self._next_page(path, self._window_params(base, lower, upper), context)
            if not page.is_last and _second(_timestamp(page.elements[-1], key)) == lower:
                # A whole page shares one second: a burst longer than a page (a bulk edit). Offset pages over it
                # could skip a row when a member is saved or deleted meanwhile; read it as a closed window of
                # its own, verified, then go on after it.
                following = _next_second(lower)
                burst_end = following if upper is None or following <= upper else upper
                yield from self._burst(path, base, lower, burst_end, seen, context)
                if burst_end == upper:
                    return
                lower = following
                seen = {i: v for i, v in seen.items() if v.startswith(lower)}
                continue
            yield from _unseen(page.elements, seen, key)
            if page.is_last:
                return
            lower = _second(_timestamp(page.elements[-1], key))
            seen = {i: v for i, v in seen.items() if v.startswith(lower)}  # only the restart second comes again

    def _burst(
        self,
        path: str,
        base: list[dict[str, t.Any]],
        lower: str,
        upper: str,
        seen: dict[t.Any, str],
        context: Context | None,
    ) -> t.Iterator[dict[str, t.Any]]:
        """Every element of [lower, upper] by page-number offsets, read again until a pass finds nothing new:
        a row that a concurrent save or delete shifted past one pass's page boundary shows up in the next."""
        key = t.cast("str", self.replication_key)
        for attempt in range(_BURST_PASSES):
            before = len(seen)
            offset = 1
            while True:
                page = self._next_page(path, self._window_params(base, lower, upper, offset), context)
                yield from _unseen(page.elements, seen, key)
                if page.is_last:
                    break
                offset += 1
            if attempt and len(seen) == before:
                return
        # Going on would move the bookmark past this second with a row possibly unread: stop instead. The
        # bookmark stays at or before it, so the next run reads the burst again.
        raise SyncError(
            f"{self.name}: records updated in {lower} kept changing while {_BURST_PASSES} passes read them "
            "(a bulk edit in progress?); stopped without moving past them: run again"
        )

    def _plan_windows(
        self,
        path: str,
        base: list[dict[str, t.Any]],
        lower: str | None,
        reached: str,
        total: int,
        page_size: int,
        context: Context | None,
    ) -> list[tuple[str, str]]:
        """Time windows of about one page each, from `reached` up to the newest record now.

        `offset` is a page number, so `pageSize=1&offset=k` is the k-th record: one cheap request per window
        boundary, all in parallel. Ranks only size the windows; correctness comes from the time bounds, so rows
        that move meanwhile change a window's size, never what it covers. Boundaries are a tenth of a page short
        of a page apart, so a window and its overlapping boundary second usually fit in one request.
        """
        key = t.cast("str", self.replication_key)
        step = max(1, page_size - max(1, page_size // 10))
        ranks = [*range(page_size + step, total, step), total]

        def second_at(rank: int) -> str | None:
            params = self._window_params(base, lower, None, offset=rank)
            params["pageSize"] = 1
            elements = self._next_page(path, params, context).elements
            return _second(_timestamp(elements[0], key)) if elements else None

        seconds = [s for s in ordered_map(self._op_tap.executor, second_at, ranks, self.concurrency) if s]
        windows: list[tuple[str, str]] = []
        start = reached
        for second in seconds:
            if second > start:
                windows.append((start, second))
                start = second
        return windows

    def _fresh(
        self, elements: t.Iterable[dict[str, t.Any]], emitted: _Boundary, *, flat: bool = False
    ) -> t.Iterator[dict[str, t.Any]]:
        """Flattened records, minus versions already emitted in the latest second (by an overlapping page or
        window, or by the previous run). Tracked here, not in the state, because records are read ahead of
        the SDK (child prefetch) and the state only follows what was delivered."""
        key = t.cast("str", self.replication_key)
        for element in elements:
            record = element if flat else self.shape.flatten(element)
            if emitted.seen(_second(record[key] or ""), str(record["id"]), _version(record, key)):
                continue
            yield record

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        """After the SDK wrote a record: advance the bookmark (never backwards) and remember which records of
        the bookmark's second were delivered, so the next page or run skips exactly those."""
        key = self.replication_key
        if not key or latest_record.get(key) is None:
            return
        state = self.get_context_state(context)
        previous = state.get("replication_key_value")
        cap = self._op_tap.bookmark_cap
        if cap is not None and latest_record[key] > cap:
            # Never past the sync's start: a save that commits during this run with an earlier updatedAt than
            # records already read must still be found by the next run. Records after the cap come again
            # next run (duplicates, never gaps).
            if previous is None or previous < cap:
                state["replication_key"], state["replication_key_value"] = key, cap
                state.pop(BOUNDARY, None)
            return
        if previous is None or latest_record[key] >= previous:
            super()._increment_stream_state(latest_record, context=context)
        second = _second(latest_record[key])
        boundary = state.get(BOUNDARY)
        if boundary is None or boundary.get("second", "") < second:
            boundary = state[BOUNDARY] = {"second": second, "records": {}}
        if boundary["second"] == second and len(boundary["records"]) < MAX_BOUNDARY:
            boundary["records"][str(latest_record["id"])] = _version(latest_record, key)

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        """Client-side project scoping where the endpoint has no project filter."""
        project_ids = self._op_tap.settings.project_ids
        scoped_here = project_ids and self.project_column and not self.project_filter
        if scoped_here and row.get(t.cast("str", self.project_column)) not in project_ids:
            return None
        if self.shape.custom_fields:
            self._warn_about_new_columns(row)
        return row

    def _warn_about_new_columns(self, row: dict[str, t.Any]) -> None:
        """A custom field created after discovery passes through untyped: say so once, never drop it."""
        if self._known_columns is None:
            self._known_columns = frozenset(self.effective_schema.get("properties", {}))
        new = row.keys() - self._known_columns - self._warned_columns
        if new:
            self._warned_columns |= new
            self.logger.warning(
                "%s has columns the catalog does not declare (%s): they pass through untyped; run --discover "
                "again (meltano: refresh the catalog) to type them",
                self.name,
                ", ".join(sorted(new)),
            )


def _unseen(elements: t.Iterable[dict[str, t.Any]], seen: dict[t.Any, str], key: str) -> t.Iterator[dict[str, t.Any]]:
    """Elements whose version was not yielded yet (and remember them)."""
    for element in elements:
        version = f"{_timestamp(element, key)}|{element.get('lockVersion', '')}"
        if seen.get(element.get("id")) != version:
            seen[element.get("id")] = version
            yield element


def _next_second(second: str) -> str:
    """The second after a whole-second timestamp (YYYY-MM-DDTHH:MM:SS)."""
    moment = dt.datetime.fromisoformat(second) + dt.timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class _Boundary:
    """Which versions were emitted within the latest second seen."""

    second: str
    records: dict[str, str]

    def seen(self, second: str, record_id: str, version: str) -> bool:
        """True if this version was emitted already; otherwise remember it (when in the latest second)."""
        if second == self.second:
            if self.records.get(record_id) == version:
                return True
            self.records[record_id] = version
        elif second > self.second:
            self.second, self.records = second, {record_id: version}
        return False


class _Unavailable(Exception):  # noqa: N818 - control flow, never escapes get_records
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _context_key(context: Context | None) -> tuple[tuple[str, t.Any], ...]:
    return tuple(sorted((context or {}).items()))


def _timestamp(element: dict[str, t.Any], key: str) -> str:
    """An element's canonical replication timestamp (as flatten() will render it)."""
    return t.cast("str", datetime_value(element.get(key))) or ""


def _second(timestamp: str) -> str:
    """The whole second of a canonical timestamp, as the server's datetime filter compares it."""
    return timestamp[:19]


def _version(record: dict[str, t.Any], key: str) -> str:
    """What makes a delivered record the same version: its timestamp and, where it has one, its lockVersion."""
    return f"{record[key]}|{record.get('lockVersion', '')}"


def auth_error_for(response_status: int, detail: str) -> AuthError:
    """The start-up error for a rejected probe of /users/me."""
    if response_status == 401:
        return AuthError(
            f"OpenProject rejected the API key ({detail}): check api_key, or create a new token under "
            "My account > Access tokens"
        )
    return AuthError(f"OpenProject refused /users/me ({detail}): check that the token's user is active")
