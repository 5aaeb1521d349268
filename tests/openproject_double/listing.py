"""Generic collections: the :class:`Endpoint` declaration and its semantics (paging, filters, sorting, select).

An Endpoint is one entry of the route table: it declares ``/api/v3/{collection}`` and, unless ``by_id`` is
off, ``/api/v3/{collection}/{id:int}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .data import OPEN_STATUS_IDS, WorkPackageRow
from .handlers import linked, single
from .query import ApiError, FilterField, Selection, apply_sort, parse_filters, parse_page, parse_select, parse_sort
from .reply import Reply, json_reply, unpaginated
from .resources import UTC, epoch_seconds, parse_datetime
from .routing import Request, Route

if TYPE_CHECKING:
    from .server import OpenProjectDouble

API = "/api/v3"
_ELEMENTS_TOKEN = "__openproject_double_elements__"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SortKeys = dict[str, Callable[[Any], Any]]


# --- item accessors ----------------------------------------------------------------------------------------
def datetime_seconds(key: str) -> Callable[[dict[str, Any]], int | None]:
    """Reads an item's datetime property as epoch seconds (the filter precision)."""
    return lambda item: epoch_seconds(parse_datetime(item[key])) if item.get(key) else None


def _dt_sort(key: str) -> Callable[[dict[str, Any]], datetime]:
    return lambda item: parse_datetime(item[key]) if item.get(key) else _EPOCH


def generic_sorts(*extra: str) -> SortKeys:
    """id, createdAt and updatedAt, plus ``extra`` text properties compared case-insensitively."""
    keys: SortKeys = {
        "id": lambda item: item["id"], "createdAt": _dt_sort("createdAt"), "updatedAt": _dt_sort("updatedAt")}
    for name in extra:
        keys[name] = (lambda n: lambda item: str(item.get(n) or "").lower())(name)
    return keys


UPDATED_AT = FilterField("datetime", datetime_seconds("updatedAt"), "Updated on")


def project_filter(link_name: str) -> FilterField:
    """An ids filter on the project an item links to."""
    return FilterField("ids", linked(link_name), "Project")


@dataclass(frozen=True)
class Endpoint:
    """How one generic collection behaves: paging, which filters/sorts/select it understands, who may list.

    ``admin_only``: others get 403 for the list, and anonymous callers 404 for a member by id.
    ``project_link``: the link naming an item's project ("self" for projects): anonymous callers see the items
    of public projects only. ``anonymous_lists`` False: anonymous callers get an empty list.
    ``sources``: store collections merged into the list (default: ``collection`` alone).
    ``has_updated_at``: whether the server version knows the updatedAt filter and sort (None: always).
    """

    collection: str
    paginated: bool = True
    filters: dict[str, FilterField] | None = None  # None: the endpoint ignores `filters`
    sorts: SortKeys | None = None  # None: the endpoint ignores `sortBy`
    select: bool = False
    admin_only: bool = False
    project_link: str | None = None  # link naming the project, for anonymous visibility
    anonymous_lists: bool = True
    sources: tuple[str, ...] = ()
    by_id: bool = True
    has_updated_at: Callable[[OpenProjectDouble], bool] | None = None

    def routes(self) -> tuple[Route, ...]:
        """The list route and, with ``by_id``, the route of one member."""
        path = f"{API}/{self.collection}"
        routes = [Route(path, lambda req: list_collection(req, self))]
        if self.by_id:
            routes.append(Route(path + "/{id:int}", single(self.collection, hidden_from_anonymous=self.admin_only)))
        return tuple(routes)

    def filter_fields(self, op: OpenProjectDouble) -> dict[str, FilterField] | None:
        """Filters accepted right now (updatedAt may depend on a switch)."""
        if self.filters is not None and self.has_updated_at is not None and not self.has_updated_at(op):
            return {k: v for k, v in self.filters.items() if k != "updated_at"}
        return self.filters

    def sort_keys(self, op: OpenProjectDouble) -> SortKeys | None:
        """Sort properties accepted right now."""
        if self.sorts is not None and self.has_updated_at is not None and not self.has_updated_at(op):
            return {k: v for k, v in self.sorts.items() if k != "updatedAt"}
        return self.sorts


def list_collection(req: Request, endpoint: Endpoint) -> Reply:
    """The answer of an Endpoint's list route."""
    op, caller = req.op, req.caller
    if endpoint.admin_only and not caller.admin:
        what = endpoint.collection.replace("_", " ")
        raise ApiError(403, "MissingPermission", f"You are not allowed to list {what}.")
    predicates, order, selection = read_query(
        op, req.query, endpoint.filter_fields(op), endpoint.sort_keys(op), endpoint.select, req.query.get("filters"))
    store = op.store
    with store.lock:
        items = [item for name in endpoint.sources or (endpoint.collection,)
                 for item in store.collection(name).values()]
        if caller.anonymous and not endpoint.anonymous_lists:
            items = []
        if caller.anonymous and endpoint.project_link:
            items = [i for i in items if store.project_is_public(
                i["id"] if endpoint.project_link == "self" else linked(endpoint.project_link)(i))]
        items = [i for i in items if all(p(i) for p in predicates)]
        # Paginated collections default to id descending; reference lists come in id (= position) order.
        items = apply_sort(items, order, lambda i: i["id"], default_descending=endpoint.paginated)
    if not endpoint.paginated:
        return unpaginated(req.path, items)
    return paged(op, "Collection", req.path, req.query, items, selection, None)


def read_query(op: OpenProjectDouble, query: dict[str, str], fields: dict[str, FilterField] | None,
               sorts: SortKeys | None, select: bool, filters_raw: str | None,
               ) -> tuple[list[Callable[[Any], bool]], list[tuple[Callable[[Any], Any], bool]], Selection | None]:
    """(filter predicates, sort order, select) of a collection query; ApiError when one is invalid."""
    predicates = [] if fields is None or filters_raw is None else parse_filters(
        filters_raw, fields, op.store.now(), OPEN_STATUS_IDS)
    order = parse_sort(query["sortBy"], sorts) if sorts is not None and query.get("sortBy") else []
    if "select" in query and op.rejects_select:
        raise ApiError(400, "InvalidSignal", "The properties 'elements/id' are not supported for select.")
    selection = parse_select(query["select"]) if select and op.supports_select and "select" in query else None
    return predicates, order, selection


# --- pages -------------------------------------------------------------------------------------------------
def _page_links(path: str, query: dict[str, str], offset: int, size: int, total: int) -> dict[str, Any]:
    base = [(k, v) for k, v in query.items() if k not in ("offset", "pageSize")]

    def at(page: int | str, page_size: int | str) -> str:
        text = urlencode(base + [("offset", str(page)), ("pageSize", str(page_size))])
        return f"{path}?{text}".replace("%7B", "{").replace("%7D", "}")

    links: dict[str, Any] = {"self": {"href": at(offset, size)},
                             "jumpTo": {"href": at("{offset}", size), "templated": True},
                             "changeSize": {"href": at(offset, "{size}"), "templated": True}}
    if offset * size < total:
        links["nextByOffset"] = {"href": at(offset + 1, size)}
    if offset > 1:
        links["previousByOffset"] = {"href": at(offset - 1, size)}
    return links


def paged(op: OpenProjectDouble, type_name: str, path: str, query: dict[str, str], items: list[Any],
          selection: Selection | None, extra: Callable[[list[Any]], dict[str, Any]] | None) -> Reply:
    """One page of ``items`` as a paginated collection (``extra`` adds embedded keys from the page)."""
    offset, size = parse_page(query, op.max_page_size)
    page = items[(offset - 1) * size: offset * size] if size else []
    total = len(items)
    if selection is not None:
        body: dict[str, Any] = {"_type": type_name, "total": total, "count": len(page), "pageSize": size,
                                "offset": offset}
        if selection.properties & {"elements", "elements/*", "elements/id", "*"}:
            body["_embedded"] = {"elements": [{"id": _id_of(i)} for i in page]}
        reply = json_reply(body, elements=len(page))
        reply.ids = [_id_of(i) for i in page]
        return reply
    body = {"_type": type_name, "total": total, "count": len(page), "pageSize": size, "offset": offset,
            "_embedded": {"elements": _ELEMENTS_TOKEN}, "_links": _page_links(path, query, offset, size, total)}
    if extra is not None:
        body["_embedded"].update(extra(page))
    if page and isinstance(page[0], WorkPackageRow):
        elements = "[" + ",".join(op.store.fragments(page)) + "]"
    else:
        elements = json.dumps(page, separators=(",", ":"), ensure_ascii=False)
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    text = text.replace(json.dumps(_ELEMENTS_TOKEN), elements, 1)
    return Reply(200, text.encode(), elements=len(page), ids=[_id_of(i) for i in page])


def _id_of(item: Any) -> int:
    return int(item.id) if isinstance(item, WorkPackageRow) else int(item["id"])
