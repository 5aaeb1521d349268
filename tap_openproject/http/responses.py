"""What one attempt came back with: a decoded API answer, or a `Failure` that the retry policy judges.

Every answer is classified here and nowhere else: a JSON 2xx becomes an `ApiResponse` (decoded once, typed);
anything else (a status, a proxy's HTML page, a cut-off body, a timeout, a refused connection, a TLS failure)
becomes a `Failure` with a one-line description that never dumps a body.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import msgspec
import requests

JSON_CONTENT_TYPES = frozenset({"application/hal+json", "application/json"})
ERROR_PREFIX = "urn:openproject-org:api:v3:errors:"
_MESSAGE_CHARS = 160


@dataclass(frozen=True)
class ApiResponse:
    """A successful JSON answer, decoded."""

    path: str
    status: int
    body: t.Any
    headers: t.Mapping[str, str] = field(default_factory=dict)
    #: Seconds from sending the request until the answer's headers arrived: how long the server took.
    server_s: float = 0.0

    @property
    def date(self) -> str | None:
        """The server's Date header (its clock), if it sent one."""
        return self.headers.get("Date")


@dataclass(frozen=True)
class Failure:
    """One failed attempt.

    kind: "status" (an HTTP error status), "content" (a 2xx that is not decodable JSON), "timeout",
    "connection", "body" (cut off or undecodable while reading), "tls".
    """

    kind: str
    description: str
    status: int | None = None
    headers: t.Mapping[str, str] = field(default_factory=dict)
    #: For "status" failures: the answer without the request path, for messages that name the path already.
    detail: str = ""


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
            clipped = text[:_MESSAGE_CHARS] + ("..." if len(text) > _MESSAGE_CHARS else "")
            parts.append(repr(clipped))
    elif response.content:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        parts.append(f"({kind} body, {len(response.content)} bytes)")
    return " ".join(parts)


#: Bytes of a successful answer -> its decoded body.
Decode = t.Callable[[bytes], t.Any]


def classify_response(
    response: requests.Response, decode: Decode | None = None, body: bytes | None = None
) -> ApiResponse | Failure:
    """A decoded answer, or the failure it represents. `decode`: the caller's decoder of a successful body (a
    stream's typed pages); it raises msgspec.DecodeError on undecodable JSON, as msgspec.json.decode does.
    `body`: the answer's bytes where the caller read them itself (else response.content)."""
    path = urlsplit(response.url).path
    status = response.status_code
    if status >= 300:
        detail = error_details(response)
        return Failure("status", f"{detail} for GET {path}", status, response.headers, detail)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in JSON_CONTENT_TYPES:
        return Failure(
            "content",
            f"{status} answer with {content_type or 'no'} content type instead of JSON for GET {path} "
            "(a proxy, maintenance or login page?)",
            status,
            response.headers,
        )
    try:
        decoded = (decode or msgspec.json.decode)(response.content if body is None else body)
    except (msgspec.DecodeError, ValueError):
        return Failure("content", f"{status} answer with truncated or undecodable JSON for GET {path}", status)
    return ApiResponse(path, status, decoded, response.headers, response.elapsed.total_seconds())


_EXCEPTION_KINDS: tuple[tuple[type[BaseException], str, str], ...] = (
    (requests.exceptions.SSLError, "tls", "TLS error (certificate not trusted or handshake failed)"),
    (requests.exceptions.Timeout, "timeout", "request timed out"),
    (requests.exceptions.ChunkedEncodingError, "body", "response body cut off or undecodable"),
    (requests.exceptions.ContentDecodingError, "body", "response body cut off or undecodable"),
)


def classify_exception(exc: requests.RequestException | ConnectionError) -> Failure:
    """The failure a transport exception represents (the exception's text is not repeated: it names hosts)."""
    for kind, name, description in _EXCEPTION_KINDS:
        if isinstance(exc, kind):
            return Failure(name, description)
    text = str(exc).lower()
    if "refused" in text:
        return Failure("connection", "connection refused")
    if any(word in text for word in ("remotedisconnected", "reset", "aborted")):
        return Failure("connection", "connection closed by the server without an answer")
    return Failure("connection", "connection failed")
