"""OpenProjectClient: the only way the tap makes a request.

Auth, the scoped session, timeouts, the retry policy, the shared guard (breaker, pause, throttle) and response
classification meet here. Callers get one decoded `ApiResponse`, or one error of the tap's family: what a
403/404 means is said explicitly at each call site (`missing=`), never guessed from an exception later.

The retry loop is written out rather than delegated to `backoff.on_exception`: that decorator sleeps with
`time.sleep` per call, while every wait here must go through the run's shared pause (one 429 pauses all
threads) and its injectable clock. The exponential schedule itself is backoff's (see RetryPolicy).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from tap_openproject.errors import CollectionUnavailable, HTTPStatusError, SyncError, UnsafeRequestError
from tap_openproject.http.responses import ApiResponse, Decode, Failure, classify_exception, classify_response
from tap_openproject.http.transport import ApiKeyAuth, ScopedSession, within
from tap_openproject.interrupt import INTERRUPT

if t.TYPE_CHECKING:
    from tap_openproject.http.guard import Guard
    from tap_openproject.http.retry import RetryPolicy
    from tap_openproject.observability import RunStats

logger = logging.getLogger("tap-openproject")

#: Transport exceptions that become a `Failure` (anything else is a bug or our own error, and propagates).
_TRANSPORT_ERRORS = (requests.exceptions.RequestException, ConnectionResetError)
_ACCEPT = "application/hal+json, application/json;q=0.9"
#: urllib3's errors while reading a body, as requests raises them from `iter_content`.
_READ_ERRORS: tuple[tuple[type[Exception], type[requests.RequestException]], ...] = (
    (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError),
    (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError),
    (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ConnectionError),
    (urllib3.exceptions.SSLError, requests.exceptions.SSLError),
)


def read_body(response: requests.Response) -> bytes:
    """A successful answer's whole body in one read: one buffer, where requests reads 10 KiB at a time and joins
    the pieces (a third of the client's cost of a page at zero server cost). Content-Length is enforced and
    Content-Encoding decoded as requests does; an error while reading is the exception requests would raise."""
    try:
        return t.cast("bytes", response.raw.read(decode_content=True))
    except tuple(error for error, _ in _READ_ERRORS) as exc:
        raise next(ours for error, ours in _READ_ERRORS if isinstance(exc, error))(exc) from exc


#: A request's answer as read (its response and body), or the transport failure.
Transfer = tuple[requests.Response, bytes] | Failure


@dataclass(frozen=True)
class Ahead:
    """A request sent ahead (`OpenProjectClient.send_ahead`): the prepared request and its transfer."""

    request: requests.PreparedRequest
    transfer: Future[Transfer]

    def cancel(self) -> None:
        """Not wanted after all: dropped unsent, or its answer read and discarded."""
        self.transfer.cancel()


class Missing(enum.Enum):
    """What a 403 or 404 answer means where a request is made."""

    #: The resource must exist: the run fails (exit 1).
    FAIL = "fail"
    #: The first request of a stream: the server lacks the collection or the token may not read it.
    SKIP_STREAM = "skip_stream"


class OpenProjectClient:
    """GET requests under the API root, retried and guarded; one per run, shared by every thread."""

    def __init__(
        self,
        *,
        api_root: str,
        api_key: str,
        user_agent: str,
        timeout: float,
        pool_size: int,
        policy: RetryPolicy,
        guard: Guard,
        stats: RunStats,
        rng: random.Random | None = None,
    ) -> None:
        self.api_root = api_root
        self.policy = policy
        self.guard = guard
        self.stats = stats
        self.session = ScopedSession(api_root, pool_size=pool_size)
        self._auth = ApiKeyAuth(api_key)
        self._headers = {"Accept": _ACCEPT, "User-Agent": user_agent}
        self._timeout = (timeout, timeout)
        # What requests' own Session.request would take from the environment (REQUESTS_CA_BUNDLE, proxies and
        # NO_PROXY): Session.send alone ignores it. One host, so once per run.
        # Answers are read by _transfer itself (stream), each body in one read.
        self._send_options: dict[str, t.Any] = {
            **self.session.merge_environment_settings(api_root, {}, None, None, None),
            "stream": True,
        }
        # Requests of the main thread run on this helper thread while the main thread waits in a polling wait:
        # a request blocked in recv would otherwise hold a SIGTERM for up to `timeout` seconds.
        self._foreground = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openproject-foreground")
        self._rng = rng or random.Random()  # noqa: S311 - for jitter, not secrets  # nosec B311

    def get(
        self,
        path: str,
        params: t.Mapping[str, t.Any] | None = None,
        *,
        label: str,
        missing: Missing = Missing.FAIL,
        decode: Decode | None = None,
        ahead: Ahead | None = None,
    ) -> ApiResponse:
        """GET `path` (under the API root), retried as the policy says. `ahead`: this request, sent already by
        `send_ahead`; its answer is the first attempt.

        Raises:
            CollectionUnavailable: 403/404 with `missing=Missing.SKIP_STREAM`.
            HTTPStatusError: any other status that is not retried.
            SyncError: retries exhausted, TLS failure, breaker open, a wait longer than max_retry_wait, or a
                request or redirect that would leave base_url.
        """
        try:
            return self._get(path, params, label, decode, ahead)
        except HTTPStatusError as exc:
            if missing is Missing.SKIP_STREAM and exc.status in (403, 404):
                raise CollectionUnavailable(str(exc), exc.status) from None
            raise

    def get_optional(self, path: str, params: t.Mapping[str, t.Any] | None = None, *, label: str) -> ApiResponse | None:
        """GET a resource that may not exist on this server or for this token: None for 403/404."""
        try:
            return self._get(path, params, label)
        except HTTPStatusError as exc:
            if exc.status in (403, 404):
                return None
            raise

    def send_ahead(self, path: str, params: t.Mapping[str, t.Any] | None = None) -> Ahead:
        """Send a GET now, on the foreground thread, while the caller goes on; `get(..., ahead=)` takes its answer
        (and retries, if it needs any, there). Drop it with `Ahead.cancel`."""
        request = self._prepare(path, params)
        self.guard.before_attempt()
        return Ahead(request, self._foreground.submit(self._transfer, request))

    def close(self) -> None:
        """Close the pooled connections."""
        self._foreground.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    def _get(
        self,
        path: str,
        params: t.Mapping[str, t.Any] | None,
        label: str,
        decode: Decode | None = None,
        ahead: Ahead | None = None,
    ) -> ApiResponse:
        request = self._prepare(path, params) if ahead is None else ahead.request
        steps = self.policy.backoff_steps()
        attempt = 0
        while True:
            attempt += 1
            if attempt == 1 and ahead is not None:
                outcome = self._attempt(request, decode, ahead.transfer)
            else:
                self.guard.before_attempt()
                outcome = self._attempt(request, decode)
            if isinstance(outcome, ApiResponse):
                self.guard.record_success()
                self.stats.request(label)
                return outcome
            self._account(outcome, label)
            if not self.policy.retries(outcome):
                raise self._final_error(outcome)
            if attempt >= self.policy.max_attempts:
                raise self._exhausted(request, outcome)
            self._wait(outcome, steps, label)

    def _prepare(self, path: str, params: t.Mapping[str, t.Any] | None) -> requests.PreparedRequest:
        request = requests.Request(
            "GET", self.api_root + path, params=dict(params or {}), headers=self._headers, auth=self._auth
        )
        prepared = self.session.prepare_request(request)
        if not within(prepared.url or "", self.api_root):
            raise UnsafeRequestError(f"refusing to request {path}: it is outside base_url")
        return prepared

    def _attempt(
        self, request: requests.PreparedRequest, decode: Decode | None = None, sent: Future[Transfer] | None = None
    ) -> ApiResponse | Failure:
        """One attempt: the transfer (sent ahead, or on the foreground thread for the main thread), then the
        answer decoded on the calling thread. A page is decoded where its records are made: objects decoded on
        another core cost the main thread more to flatten and free than the decoding itself (bench: record_path)."""
        if sent is not None:
            transfer = INTERRUPT.result(sent)
        elif threading.current_thread() is threading.main_thread():
            transfer = INTERRUPT.result(self._foreground.submit(self._transfer, request))
        else:
            transfer = self._transfer(request)
        if isinstance(transfer, Failure):
            return transfer
        response, body = transfer
        return classify_response(response, decode, body)

    def _transfer(self, request: requests.PreparedRequest) -> Transfer:
        """Send the request and read the answer, or the transport failure."""
        try:
            response = self.session.send(request, timeout=self._timeout, allow_redirects=True, **self._send_options)
            body = read_body(response) if response.status_code < 300 else response.content
        except _TRANSPORT_ERRORS as exc:
            return classify_exception(exc)
        return response, body

    def _account(self, failure: Failure, label: str) -> None:
        """Statistics and the breaker's streak (which may open the breaker and raise)."""
        retried = self.policy.retries(failure)
        if retried or failure.kind == "tls":
            self.stats.failed_attempt(label)
        if self.policy.means_server_down(failure):
            self.guard.record_failure(failure.description)
        elif failure.kind == "status" and not retried:
            self.guard.record_success()  # a 4xx is an answer from a healthy server

    def _wait(self, failure: Failure, steps: t.Iterator[float], label: str) -> None:
        wait = self.policy.wait(failure, steps, self.guard.clock.now(), self._rng)
        if wait.server_asked:
            self.guard.pause(wait.seconds)
        self.guard.note_wait(wait.seconds, server_asked=wait.server_asked)
        self.stats.waited(label, wait.seconds)
        logger.warning("Retrying in %.1f s (%s) after: %s", wait.seconds, wait.reason, failure.description)
        self.guard.clock.sleep(wait.seconds)

    def _final_error(self, failure: Failure) -> SyncError:
        if failure.kind == "tls":
            return SyncError(
                f"TLS failed for {urlsplit(self.api_root).netloc}: the server's certificate is not trusted or the "
                "handshake failed (not retried). Fix the certificate, or point REQUESTS_CA_BUNDLE at your CA bundle"
            )
        return HTTPStatusError(failure.description, failure.status or 0)

    def _exhausted(self, request: requests.PreparedRequest, failure: Failure) -> SyncError:
        tries = self.policy.max_attempts
        path = urlsplit(request.url or "").path
        reason = failure.detail or failure.description.removesuffix(f" for GET {path}")
        return SyncError(
            f"GET {path} failed after {tries} attempt{'s' if tries != 1 else ''}: {reason}; check that "
            f"OpenProject at {urlsplit(self.api_root).netloc} is up, then run again (the last good state was "
            "written)"
        )
