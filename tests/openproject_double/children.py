"""Handlers of the OpenProject 17 child collections and the calendar (data in data_children.py).

All of these collections are unpaginated (``Collection`` with ``total`` and ``count`` only, per the spec's
collection models); the meeting ones 404 for a meeting the caller may not see, like the real server.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from .data_children import ITEM_FIELD_FORMATS
from .handlers import linked
from .query import ApiError
from .reply import Reply, json_reply, not_found, unpaginated
from .routing import Request


def _visible_meeting(req: Request, meeting_id: int) -> None:
    meeting = req.op.store.get("meetings", meeting_id)
    if meeting is None or (req.caller.anonymous and not req.op.store.project_is_public(linked("project")(meeting))):
        raise not_found(req.path)


def meeting_sections(req: Request) -> Reply:
    """/api/v3/meetings/{id}/sections: in position order, the backlog section last."""
    _visible_meeting(req, req.params["id"])
    store = req.op.store
    with store.lock:
        found = [s for s in store.collection("meeting_sections").values() if linked("meeting")(s) == req.params["id"]]
    return unpaginated(req.path, sorted(found, key=lambda s: (s["backlog"], s["position"], s["id"])))


def meeting_agenda_items(req: Request) -> Reply:
    """/api/v3/meetings/{id}/agenda_items: by section, then position within the section."""
    _visible_meeting(req, req.params["id"])
    store = req.op.store
    with store.lock:
        sections = store.collection("meeting_sections")
        found = [i for i in store.collection("meeting_agenda_items").values()
                 if linked("meeting")(i) == req.params["id"]]

        def order(item: dict[str, Any]) -> tuple[int, int, int]:
            section = sections.get(linked("section")(item) or 0)
            return (section["position"] if section else 0, item["position"], item["id"])

        return unpaginated(req.path, sorted(found, key=order))


def _agenda_item(req: Request) -> dict[str, Any]:
    _visible_meeting(req, req.params["meeting"])
    item = req.op.store.get("meeting_agenda_items", req.params["id"])
    if item is None or linked("meeting")(item) != req.params["meeting"]:
        raise not_found(req.path)
    return item


def meeting_agenda_item(req: Request) -> Reply:
    """/api/v3/meetings/{meeting_id}/agenda_items/{id}."""
    return json_reply(_agenda_item(req))


def agenda_item_outcomes(req: Request) -> Reply:
    """/api/v3/meetings/{meeting_id}/agenda_items/{id}/outcomes."""
    item = _agenda_item(req)
    store = req.op.store
    with store.lock:
        found = [o for o in store.collection("meeting_outcomes").values()
                 if o["_links"]["agendaItem"]["href"] == item["_links"]["self"]["href"]]
    return unpaginated(req.path, sorted(found, key=lambda o: o["id"]))


def non_working_days(req: Request) -> Reply:
    """/api/v3/days/non_working: the `date` filter (`<>d`, both bounds inclusive) scopes the days; without it,
    or for an empty bound, the server uses the current year (Queries::NonWorkingDays, DatesIntervalFilter)."""
    year = req.op.store.now().year
    low, high = date(year, 1, 1), date(year, 12, 31)
    for entry in _filters(req.query.get("filters")):
        name, spec = next(iter(entry.items()))
        if name != "date":
            raise ApiError(400, "InvalidQuery", f"Filter {name} does not exist.")
        values = spec.get("values") or []
        if spec.get("operator") != "<>d" or not 1 <= len(values) <= 2:
            raise ApiError(400, "InvalidQuery", "Date is invalid.")
        try:
            low = date.fromisoformat(values[0]) if values[0] else low
            high = date.fromisoformat(values[1]) if len(values) > 1 and values[1] else high
        except (TypeError, ValueError):
            raise ApiError(400, "InvalidQuery", "Date is invalid.") from None
    store = req.op.store
    with store.lock:
        days = [d for d in store.collection("non_working_days").values()
                if low <= date.fromisoformat(d["date"]) <= high]
    return unpaginated(req.path, sorted(days, key=lambda d: d["date"]))


def _filters(raw: str | None) -> list[dict[str, Any]]:
    if raw is None:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ApiError(400, "InvalidQuery", "Filters are not valid JSON.") from None
    if not isinstance(parsed, list) or not all(isinstance(f, dict) and len(f) == 1 for f in parsed):
        raise ApiError(400, "InvalidQuery", "Filters must be an array of one-key objects.")
    return parsed


def week_days(req: Request) -> Reply:
    """/api/v3/days/week: the seven days, Monday first."""
    store = req.op.store
    with store.lock:
        days = sorted(store.collection("week_days").values(), key=lambda d: d["day"])
    return unpaginated(req.path, days)


def custom_field_items(req: Request) -> Reply:
    """/api/v3/custom_fields/{id}/items: the item tree depth first, from `parent` (default: the root) down to
    `depth` levels below it (default: all); 422 for a field that is no hierarchy or weighted item list."""
    store = req.op.store
    field_id = req.params["id"]
    if store.get("custom_fields", field_id) is None:
        raise not_found(req.path)
    if field_id not in ITEM_FIELD_FORMATS:
        raise ApiError(422, "UnprocessableContent", "The requested custom field resource is of wrong type.")
    items = store.collection("custom_field_items")
    start = store.collection("hierarchy_roots")[field_id]["root_id"]
    if "parent" in req.query:
        start = int(req.query["parent"]) if req.query["parent"].isdigit() else 0
    depth = int(req.query["depth"]) if req.query.get("depth", "").isdigit() else None
    top = items.get(start)
    if top is None:
        raise not_found(req.path)
    found: list[dict[str, Any]] = []
    pending = [top]
    while pending:
        item = pending.pop()
        found.append(item)
        if depth is None or item["depth"] - top["depth"] < depth:
            children = [items[int(c["href"].rsplit("/", 1)[1])] for c in item["_links"]["children"]]
            pending.extend(reversed(children))
    return unpaginated(req.path, found)
