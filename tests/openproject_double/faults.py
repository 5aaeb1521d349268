"""Fault rules: what a proxy, a gateway or a broken network does to requests on their way to OpenProject.

A rule is ``Fault(kind, path=regex, times=N|None, **params)``. Rules are checked in insertion order; the
first whose regex matches the request path (``re.search``, query string excluded) and which has uses left
applies and uses one up. ``skip=N`` lets the first N matching requests through untouched (e.g. fail only
page 2). ``times=None`` (the default) applies forever.

Two kinds rewrite a collection answer instead of replacing it (a proxy rewriting bodies, or a server whose COUNT
and SELECT disagree because a row was created in between):

- ``undercount`` (``by=N``): ``total`` says N fewer elements than the collection has; ``nextByOffset`` follows the
  wrong total, as the server computes it from the count.
- ``malformed_element`` (``element=K`` 1-based, ``field="id"``, optional ``value``): the K-th element of the page
  loses ``field`` (or gets ``value`` instead). A page with fewer elements passes unchanged.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from .query import ERROR_URN

KINDS = ("status", "rate_limit", "stall", "truncated_json", "short_body", "html_200", "wrong_content_type",
         "redirect", "close", "undercount", "malformed_element")
#: Kinds that rewrite the normal answer's body (see :func:`rewrite_collection`).
REWRITES = ("undercount", "malformed_element")

STATUS_ERROR_NAMES = {400: "InvalidQuery", 401: "Unauthenticated", 403: "MissingPermission", 404: "NotFound",
                      406: "NotAcceptable", 409: "UpdateConflict", 422: "PropertyConstraintViolation",
                      429: "Throttled", 500: "InternalServerError"}

REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

MAINTENANCE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OpenProject - Maintenance</title></head>
<body><h1>We'll be back soon</h1>
<p>OpenProject is undergoing scheduled maintenance. Please <a href="/login">sign in</a> again later.</p>
</body></html>
"""


class Fault:
    """One fault rule (see the module docstring); ``params`` hold the kind-specific settings and
    ``applied`` counts the requests it has answered."""

    def __init__(self, kind: str, path: str = r".*", times: int | None = None, **params: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "redirect" and not params.get("location"):
            raise ValueError("a redirect fault needs location=<absolute URL>")
        self.kind, self.path, self.times, self.params, self.applied = kind, path, times, params, 0
        self._skip = int(params.pop("skip", 0))
        self._pattern = re.compile(path)

    def __repr__(self) -> str:
        return f"Fault({self.kind!r}, path={self.path!r}, times={self.times!r}, applied={self.applied}, {self.params!r})"

    def take(self, path: str) -> bool:
        """Whether this rule answers a request for ``path`` (consumes one use). Call under the rules' lock."""
        if (self.times is not None and self.times <= 0) or not self._pattern.search(path):
            return False
        if self._skip > 0:
            self._skip -= 1
            return False
        if self.times is not None:
            self.times -= 1
        self.applied += 1
        return True


class FaultRules:
    """The ordered, thread-safe list of fault rules of one double."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Append a rule (checked after the existing ones)."""
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def match(self, path: str) -> Fault | None:
        """The first rule that applies to ``path``, its use already counted."""
        with self._lock:
            return next((rule for rule in self._rules if rule.take(path)), None)

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._rules))


def rewrite_collection(fault: Fault, body: bytes) -> bytes:
    """The collection answer ``body`` as an ``undercount`` or ``malformed_element`` fault rewrites it; anything
    that is not a collection passes unchanged."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    elements = (document.get("_embedded") or {}).get("elements") if isinstance(document, dict) else None
    if not isinstance(elements, list):
        return body
    if fault.kind == "undercount" and isinstance(document.get("total"), int):
        total = max(0, document["total"] - int(fault.params.get("by", 1)))
        document["total"] = total
        links, size, offset = document.get("_links") or {}, document.get("pageSize"), document.get("offset")
        if isinstance(size, int) and isinstance(offset, int) and offset * size >= total:
            links.pop("nextByOffset", None)
    elif fault.kind == "malformed_element":
        position = int(fault.params.get("element", 1))
        if 1 <= position <= len(elements) and isinstance(elements[position - 1], dict):
            element, name = elements[position - 1], str(fault.params.get("field", "id"))
            if "value" in fault.params:
                element[name] = fault.params["value"]
            else:
                element.pop(name, None)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def error_json(status: int, name: str | None = None, message: str | None = None) -> bytes:
    """An OpenProject Error body for ``status``."""
    name = name or STATUS_ERROR_NAMES.get(status, "InternalServerError")
    body = {"_type": "Error", "errorIdentifier": ERROR_URN + name,
            "message": message or f"The server answered {status} (injected fault)."}
    return json.dumps(body).encode()


def error_html(status: int) -> bytes:
    """The HTML page a reverse proxy sends for a gateway error."""
    reason = REASONS.get(status, "Error")
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}"
            f"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n").encode()
