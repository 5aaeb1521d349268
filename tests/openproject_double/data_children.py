"""Data of the OpenProject 17 child collections and the calendar, deterministic from the dataset seed.

Shapes follow the API spec (opf/openproject, docs/api/apiv3): meeting sections, agenda items and outcomes
(``components/schemas/meeting_{section,agenda_item,outcome}_model.yml``), watchers (``paths/work_package_watchers.yml``:
User elements), file links (``components/schemas/file_link_read_model.yml``), non-working days and week days
(``non_working_day_model.yml``, ``week_day_collection_model.yml``), custom fields and their hierarchy items
(``custom_field_model.yml``, ``hierarchy_item_read_model.yml``, ``examples/hierarchy_item_collection_response.yml``).

Meeting contents, the calendar and the item trees are generated once per store (:func:`child_collections`);
watchers and file links are derived per work package on demand, like activities (:data:`WORK_PACKAGE_CHILDREN`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from .data import (
    PROJECT_CUSTOM_FIELDS,
    TIME_ENTRY_CUSTOM_FIELDS,
    WP_CUSTOM_FIELDS,
    WorkPackageRow,
    subject_for,
)
from .resources import action, formattable, href, iso_datetime, link, parse_datetime

Lookup = Callable[[str, int], dict[str, Any] | None]
HIERARCHY_ITEM = "CustomField::Hierarchy::Item"
#: The custom fields whose values are hierarchy items, and their format (both kinds share the item model).
ITEM_FIELD_FORMATS = {13: "hierarchy", 14: "weighted_item_list"}
_FORMATS = {"String": "string", "Integer": "int", "Float": "float", "Boolean": "bool", "Date": "date",
            "Formattable": "text", "CustomOption": "list", "User": "user", "Version": "version"}
#: The item trees: field id -> [(label, short, weight, depth)] depth first, under an unlabelled root.
_TREES: dict[int, list[tuple[str, str | None, str | None, int]]] = {
    13: [("Europe", "EU", None, 1), ("Germany", "DE", None, 2), ("France", "FR", None, 2),
         ("Americas", "AM", None, 1), ("Brazil", "BR", None, 2), ("Asia", "AS", None, 1)],
    14: [("Low", None, "0.5", 1), ("Medium", None, "1.25", 1), ("High", None, "2", 1), ("Critical", None, "3.75", 2)],
}
_EXTRA_LEAVES = ["Oceania", "Africa", "Antarctica"]
_HOLIDAYS = [("01-01", "New Year's Day"), ("05-01", "Labour Day"), ("12-25", "Christmas Day"),
             ("12-26", "Boxing Day")]
_WEEK = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_FILES = [("roadmap.pdf", "application/pdf"), ("mockup.png", "image/png"), ("budget.xlsx",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("minutes.docx",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]


def child_collections(seed: int, collections: dict[str, dict[int, dict[str, Any]]],
                      wp_ids: list[int]) -> dict[str, dict[int, dict[str, Any]]]:
    """The generated collections: meeting contents, the calendar, custom fields and their item trees."""
    out = meeting_contents(seed, collections["meetings"], collections["users"], wp_ids)
    out["non_working_days"] = non_working_days(seed)
    out["week_days"] = {n: {"_type": "WeekDay", "day": n, "name": name, "working": n <= 5,
                            "_links": {"self": {"href": f"/api/v3/days/week/{n}", "title": name}}}
                        for n, name in enumerate(_WEEK, 1)}
    out["custom_fields"] = custom_field_models()
    out["custom_field_items"], out["hierarchy_roots"] = hierarchy_items(seed)
    return out


# --- meetings ------------------------------------------------------------------------------------------------
def meeting_contents(seed: int, meetings: dict[int, dict[str, Any]], users: dict[int, dict[str, Any]],
                     wp_ids: list[int]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per meeting: 1-2 sections plus the backlog section, 0-4 agenda items, 0-2 outcomes per item."""
    rng = random.Random(seed * 5_000_011)
    sections: dict[int, dict[str, Any]] = {}
    items: dict[int, dict[str, Any]] = {}
    outcomes: dict[int, dict[str, Any]] = {}
    user_ids = sorted(users)
    for mid in sorted(meetings):
        meeting = meetings[mid]
        created = parse_datetime(meeting["createdAt"])
        mlink = link("meetings", mid, meeting["title"])
        own = []
        for position, title in enumerate(["Updates", "Decisions"][:rng.randint(1, 2)] + ["Agenda backlog"], 1):
            sid = len(sections) + 1
            backlog = title == "Agenda backlog"
            sections[sid] = {"_type": "MeetingSection", "id": sid, "title": title, "position": position,
                             "backlog": backlog, "createdAt": iso_datetime(created),
                             "updatedAt": iso_datetime(created + timedelta(hours=position)),
                             "_links": {"self": link("meeting_sections", sid, title), "meeting": mlink}}
            if not backlog:
                own.append(sections[sid])
        for n in range(rng.randint(0, 4)):
            section = own[n % len(own)]
            author = user_ids[rng.randrange(len(user_ids))]
            presenter = user_ids[rng.randrange(len(user_ids))] if rng.random() < 0.6 else None
            wp = wp_ids[rng.randrange(len(wp_ids))] if rng.random() < 0.4 else None
            aid = len(items) + 1
            title = subject_for(seed, wp) if wp else f"Topic {n + 1} of {meeting['title']}"
            at = created + timedelta(hours=2 + n)
            item_href = f"/api/v3/meetings/{mid}/agenda_items/{aid}"
            items[aid] = {
                "_type": "MeetingAgendaItem", "id": aid, "title": title,
                "notes": formattable("Discussed briefly." if rng.random() < 0.5 else ""),
                "position": n // len(own) + 1, "durationInMinutes": rng.choice([None, 5, 10, 15, 30]),
                "itemType": "work_package" if wp else "simple", "lockVersion": rng.randint(0, 2),
                "createdAt": iso_datetime(at), "updatedAt": iso_datetime(at + timedelta(minutes=rng.randint(0, 90))),
                "_links": {"self": {"href": item_href, "title": title}, "meeting": mlink,
                           "section": link("meeting_sections", section["id"], section["title"]),
                           "author": link("users", author, users[author]["name"]),
                           "presenter": link("users", presenter, users[presenter]["name"]) if presenter
                           else {"href": None},
                           "workPackage": link("work_packages", wp, title) if wp else {"href": None},
                           "update": action(item_href, "patch"), "delete": action(item_href, "delete")}}
            for k in range(rng.choice([0, 0, 1, 2])):
                outcomes[len(outcomes) + 1] = _outcome(len(outcomes) + 1, items[aid], k, wp, users, rng)
    return {"meeting_sections": sections, "meeting_agenda_items": items, "meeting_outcomes": outcomes}


def _outcome(oid: int, item: dict[str, Any], k: int, wp: int | None, users: dict[int, dict[str, Any]],
             rng: random.Random) -> dict[str, Any]:
    """One outcome of an agenda item: an information note, or (on a work package item) that work package."""
    author = sorted(users)[rng.randrange(len(users))]
    at = parse_datetime(item["updatedAt"]) + timedelta(minutes=k + 1)
    decided = wp is not None and k == 0
    return {"_type": "MeetingOutcome", "id": oid, "kind": "work_package" if decided else "information",
            "notes": formattable("Agreed to proceed." if k == 0 else "Follow up next week."),
            "createdAt": iso_datetime(at), "updatedAt": iso_datetime(at),
            "_links": {"self": link("meeting_outcomes", oid), "author": link("users", author, users[author]["name"]),
                       "agendaItem": {"href": item["_links"]["self"]["href"], "title": item["title"]},
                       "workPackage": item["_links"]["workPackage"] if decided else {"href": None}}}


# --- work package children --------------------------------------------------------------------------------
def watchers_for(row: WorkPackageRow, seed: int, lookup: Lookup) -> list[dict[str, Any]]:
    """The users watching a work package (User elements): its author and assignee, sometimes the admin."""
    rng = random.Random(seed * 11_000_027 + row.id)
    ids = {row.author_id} | ({row.assignee_id} if row.assignee_id else set()) | ({1} if rng.random() < 0.3 else set())
    if rng.random() < 0.15:
        ids = set()  # nobody watches it
    return [user for uid in sorted(ids) if (user := lookup("users", uid)) is not None]


def file_links_for(row: WorkPackageRow, seed: int, lookup: Lookup) -> list[dict[str, Any]]:
    """The file links of a work package (0-2), derived from its id; file link id = 3 * wp id + k."""
    rng = random.Random(seed * 13_000_049 + row.id)
    out = []
    creator = lookup("users", row.author_id)
    creator_name = creator["name"] if creator else None
    for k in range(rng.choice([0, 0, 0, 1, 2])):
        fid = row.id * 3 + k
        name, mime = _FILES[rng.randrange(len(_FILES))]
        linked_at = row.created_at + timedelta(hours=k + 2)
        file_created = linked_at - timedelta(days=rng.randint(1, 30))
        out.append({
            "_type": "FileLink", "id": fid, "createdAt": iso_datetime(linked_at), "updatedAt": iso_datetime(linked_at),
            "originData": {"id": str(5000 + fid), "name": name, "mimeType": mime, "size": rng.randint(2_000, 9_000_000),
                           "createdAt": iso_datetime(file_created), "lastModifiedAt": iso_datetime(linked_at),
                           "createdByName": creator_name, "lastModifiedByName": creator_name},
            "_links": {"self": {"href": href("file_links", fid), "title": name},
                       "storage": link("storages", 1, "Nextcloud"),
                       "container": link("work_packages", row.id, subject_for(seed, row.id)),
                       "creator": link("users", row.author_id, creator_name),
                       "delete": action(href("file_links", fid), "delete"),
                       "originOpen": {"href": f"https://cloud.example.org/index.php/f/{5000 + fid}"},
                       "staticOriginOpen": {"href": f"{href('file_links', fid)}/open"}}})
    return out


#: Per-work-package collections derived on demand (see Store.derived).
WORK_PACKAGE_CHILDREN: dict[str, Callable[[WorkPackageRow, int, Lookup], list[dict[str, Any]]]] = {
    "watchers": watchers_for, "file_links": file_links_for}


# --- calendar ----------------------------------------------------------------------------------------------
def non_working_days(seed: int) -> dict[int, dict[str, Any]]:
    """Holidays of 2019 through 2030 (four fixed ones a year from 2022 on, one company day each year, and two
    outliers), keyed by the date as YYYYMMDD."""
    rng = random.Random(seed * 17_000_077)
    days = [(date(2019, 12, 24), "Christmas Eve"), (date(2030, 12, 31), "New Year's Eve")]
    for year in range(2022, 2028):
        days += [(date.fromisoformat(f"{year}-{md}"), name) for md, name in _HOLIDAYS]
        days.append((date(year, rng.randint(6, 9), rng.randint(1, 28)), "Company day"))
    out = {}
    for day, name in sorted(days):
        text = day.isoformat()
        out[int(text.replace("-", ""))] = {"_type": "NonWorkingDay", "date": text, "name": name,
                                           "_links": {"self": {"href": f"/api/v3/days/non_working/{text}",
                                                               "title": name}}}
    return out


# --- custom fields and their item trees ----------------------------------------------------------------------
def custom_field_models() -> dict[int, dict[str, Any]]:
    """/api/v3/custom_fields/{id} of every custom field the schemas name."""
    fields = {**WP_CUSTOM_FIELDS, **PROJECT_CUSTOM_FIELDS, **TIME_ENTRY_CUSTOM_FIELDS}
    out = {}
    for cf_id, (kind, name, _linked) in sorted(fields.items()):
        out[cf_id] = {"_type": "CustomField", "id": cf_id, "name": name,
                      "fieldFormat": ITEM_FIELD_FORMATS.get(cf_id) or _FORMATS.get(kind.removeprefix("[]"), "string"),
                      "isRequired": False, "isMultiValue": kind.startswith("[]"),
                      "createdAt": "2024-01-02T09:00:00Z", "updatedAt": "2024-06-03T10:30:00Z",
                      "_links": {"self": link("custom_fields", cf_id, name)}}
    return out


def hierarchy_items(seed: int) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """(item id -> HierarchyItem, field id -> {"id", "root_id"}): one tree per item field, depth first; the seed
    adds 0-2 leaves to the first tree."""
    items: dict[int, dict[str, Any]] = {}
    roots: dict[int, dict[str, Any]] = {}
    for cf_id, nodes in _TREES.items():
        nodes = nodes + ([(leaf, leaf[:2].upper(), None, 1) for leaf in _EXTRA_LEAVES[:seed % 3]] if cf_id == 13 else [])
        root_id = len(items) + 1
        roots[cf_id] = {"id": cf_id, "root_id": root_id}
        path = [root_id]  # the current ancestors, root first
        items[root_id] = _item(root_id, None, None, None, 0, None)
        for label, short, weight, depth in nodes:
            iid = len(items) + 1
            del path[depth:]
            parent = items[path[-1]]
            items[iid] = _item(iid, label, short, weight, depth, parent)
            parent["_links"]["children"].append({"href": href("custom_field_items", iid), "name": label})
            path.append(iid)
    return items, roots


def _item(iid: int, label: str | None, short: str | None, weight: str | None, depth: int,
          parent: dict[str, Any] | None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": href("custom_field_items", iid), **({"name": label} if label else {})}}
    if parent is not None:
        links["parent"] = {"href": parent["_links"]["self"]["href"], "name": parent["label"]}
    links["branch"] = {"href": f"{href('custom_field_items', iid)}/branch"}
    links["children"] = []
    return {"_type": "HierarchyItem", "id": iid, "label": label, "short": short, "weight": weight,
            "formattedWeight": weight, "depth": depth, "_links": links}
