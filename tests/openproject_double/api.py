"""The API v3 surface, independent of HTTP plumbing: :func:`answer` turns (method, path, query, caller) into a
:class:`Reply`; the HTTP handler in ``server.py`` only records, injects faults and writes bytes.

Which paths exist and what answers them is declared in ``routes.py`` (the table), matched by ``routing.py``;
``listing.py`` holds collection semantics (paging, filters, sorting, select), ``work_packages.py`` and
``handlers.py`` the other handlers, ``reply.py`` the shapes every answer shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .listing import Endpoint
from .listing import read_query as _read_query
from .query import ApiError
from .reply import HAL_JSON, Caller, Reply, error_reply, not_found
from .routes import ROUTES
from .routing import Request, Route, RouteTable
from .work_packages import WP_FILTERS, wp_sorts

if TYPE_CHECKING:
    from .server import OpenProjectDouble

__all__ = ["HAL_JSON", "ROUTES", "WP_FILTERS", "Caller", "Endpoint", "Reply", "Request", "Route", "RouteTable",
           "_read_query", "answer", "error_reply", "not_found", "wp_sorts"]


def answer(op: OpenProjectDouble, method: str, path: str, query: dict[str, str], caller: Caller) -> Reply:
    """The API's answer to an authenticated (or anonymous) request, routed by ``op.routes``."""
    try:
        if method not in ("GET", "HEAD"):
            raise ApiError(405, "NotImplemented", f"The double is read-only: {method} is not supported.")
        return op.routes.answer(op, path.rstrip("/") or "/", query, caller)
    except ApiError as error:
        return error_reply(error)
