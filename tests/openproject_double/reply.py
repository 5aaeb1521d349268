"""What an answer is before it goes on the wire: the caller, the reply, and the JSON shapes every route shares."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .query import ApiError

HAL_JSON = "application/hal+json; charset=utf-8"


@dataclass
class Caller:
    """Who is asking: a user behind an API key, or the anonymous user."""

    user_id: int
    admin: bool
    anonymous: bool = False


@dataclass
class Reply:
    """A response before transport: status, body, content type, extra headers, elements returned."""

    status: int
    body: bytes
    content_type: str = HAL_JSON
    headers: dict[str, str] = field(default_factory=dict)
    elements: int = 0
    ids: list[int] | None = None  # ids of a collection page's elements (recorded on the request)


def dumps(value: Any) -> bytes:
    """Compact JSON, as the server writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def error_reply(error: ApiError) -> Reply:
    """The JSON answer of an :class:`ApiError`."""
    return Reply(error.status, dumps(error.body()), headers=dict(error.headers))


def not_found(path: str) -> ApiError:
    """404 NotFound, also used when a path does not exist on this server."""
    return ApiError(404, "NotFound", f"The requested resource could not be found: {path}")


def json_reply(value: dict[str, Any], elements: int = 0) -> Reply:
    """200 with ``value`` as the body."""
    return Reply(200, dumps(value), elements=elements)


def unpaginated(path: str, items: list[dict[str, Any]]) -> Reply:
    """A Collection without page keys: reference lists and a work package's activities or attachments."""
    body = {"_type": "Collection", "total": len(items), "count": len(items),
            "_embedded": {"elements": items}, "_links": {"self": {"href": path}}}
    return json_reply(body, elements=len(items))
