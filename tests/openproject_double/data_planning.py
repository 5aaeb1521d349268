"""The 16.x/17.x collections of the double: sprints, project phase definitions, labels, budgets, storages, project
storages, saved queries, views, help texts. Deterministic from the dataset seed, a few per project.

Shapes follow the API spec (opf/openproject docs/api/apiv3): components/examples/sprint_collection.yml and
schemas/sprint_model.yml; schemas/project_phase_definition_model.yml; examples/label_collection.yml;
paths/project_budgets.yml (a budget has id and subject only, no project link); schemas/storage_read_model.yml and
project_storage_model.yml; paths/queries.yml (a query embeds its work package results); examples/views.yml and
lib/api/v3/views/view_representer.rb; schemas/help_text_collection_model.yml.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from .data import DATA_END, subject_for
from .resources import action, formattable, href, iso_datetime, link

Collections = dict[str, dict[int, dict[str, Any]]]

#: The collections this module adds to the store. ``budgets_by_project`` is the double's own bookkeeping (which
#: budgets a project's list holds, and whether the project has the budgets module), never served.
PLANNING_COLLECTIONS = ("sprints", "project_phase_definitions", "labels", "budgets", "budgets_by_project",
                        "storages", "project_storages", "queries", "views", "help_texts")
SPRINT_STATUS = "urn:openproject-org:api:v3:sprints:status:"
#: Sprint k of every project: (start offset in days from 2025-05-05, how definingWorkspace is routed). The
#: first is completed by DATA_END, the second active, the third in planning.
SPRINT_PLAN = [(0, "projects"), (14, "workspaces"), (28, "projects")]
PHASES = [(1, "Initiating", True, "Before Initiating", True, None), (2, "Planning", False, None, True, "Plan approved"),
          (3, "Executing", False, None, False, None), (4, "Closing", True, "Ready to close", True, "Closed")]
LABELS = ["Backend", "Bug", "Customer request", "Frontend", "Urgent"]  # ids in name order, as the list is sorted
COLUMNS = ["id", "subject", "type", "status", "assignee", "updatedAt"]
VIEW_TYPES = ["Views::WorkPackagesTable", "Views::TeamPlanner", "Views::Gantt"]
HELP_TEXTS = [("status", "Status", "WorkPackage"), ("customField1", "Customer reference", "WorkPackage"),
              ("status", "Project status", "Project")]


def _stamps(rng: random.Random, start: datetime) -> tuple[str, str]:
    """(createdAt, updatedAt) between ``start`` and DATA_END, updatedAt with milliseconds now and then."""
    span = int((DATA_END - start).total_seconds())
    created = start + timedelta(seconds=rng.randint(0, span // 2))
    updated = created + timedelta(seconds=rng.randint(0, int((DATA_END - created).total_seconds())))
    if rng.random() < 0.3:
        updated = updated.replace(microsecond=rng.randint(1, 999) * 1000)
    return iso_datetime(created), iso_datetime(updated)


def generate_planning(seed: int, c: Collections) -> Collections:
    """Every collection of PLANNING_COLLECTIONS, for the projects and users already in ``c``."""
    rng = random.Random(seed * 1_000_033 + 17)
    since = DATA_END - timedelta(days=120)
    out: Collections = {"sprints": _sprints(rng, c["projects"], since)}
    out["project_phase_definitions"] = {
        pid: {"_type": "ProjectPhaseDefinition", "id": pid, "name": name, "startGate": start_gate,
              "startGateName": start_name, "finishGate": finish_gate, "finishGateName": finish_name,
              **dict(zip(("createdAt", "updatedAt"), _stamps(rng, since), strict=True)),
              "_links": {"self": link("project_phase_definitions", pid, name)}}
        for pid, name, start_gate, start_name, finish_gate, finish_name in PHASES}
    out["labels"] = {
        lid: {"_type": "Label", "id": lid, "name": name,
              **dict(zip(("createdAt", "updatedAt"), _stamps(rng, since), strict=True)),
              "_links": {"self": link("labels", lid, name)}}
        for lid, name in enumerate(LABELS, 1)}
    out["budgets"], out["budgets_by_project"] = _budgets(c["projects"])
    out["storages"], out["project_storages"] = _storages(rng, c["projects"], since)
    out["queries"], out["views"] = _queries_and_views(rng, seed, c["projects"], c["users"], since)
    out["help_texts"] = {
        hid: {"_type": "HelpText", "id": hid, "attribute": attribute, "attributeCaption": caption, "scope": scope,
              "helpText": formattable(f"How to fill in *{caption}*."),
              "_links": {"self": {"href": href("help_texts", hid)},
                         "editText": {"href": f"/admin/attribute_help_texts/{hid}/edit", "type": "text/html"},
                         "attachments": {"href": f"/api/v3/help_texts/{hid}/attachments"},
                         "addAttachment": action(f"/api/v3/help_texts/{hid}/attachments", "post")}}
        for hid, (attribute, caption, scope) in enumerate(HELP_TEXTS, 1)}
    return out


def _sprints(rng: random.Random, projects: dict[int, dict[str, Any]], since: datetime) -> dict[int, dict[str, Any]]:
    sprints: dict[int, dict[str, Any]] = {}
    for pid, project in projects.items():
        for k, (offset, route) in enumerate(SPRINT_PLAN):
            sid = len(sprints) + 1
            start = date(2025, 5, 5) + timedelta(days=offset)
            finish = start + timedelta(days=13)
            status = ("completed" if finish < DATA_END.date() else "active" if start <= DATA_END.date()
                      else "in_planning")
            created, updated = _stamps(rng, since)
            started = datetime.combine(start, datetime.min.time()).replace(tzinfo=DATA_END.tzinfo, hour=9)
            name = f"Sprint {pid}.{k + 1}"
            sprints[sid] = {
                "_type": "Sprint", "id": sid, "name": name, "description": formattable(f"Goal of {name}."),
                "startDate": start.isoformat(), "finishDate": finish.isoformat(),
                "startedAt": None if status == "in_planning" else iso_datetime(started),
                "completedAt": iso_datetime(started + timedelta(days=13, hours=8)) if status == "completed" else None,
                "createdAt": created, "updatedAt": updated,
                "_links": {"self": link("sprints", sid, name),
                           "definingWorkspace": link(route, pid, project["name"]),
                           "status": {"href": SPRINT_STATUS + status, "title": status.replace("_", " ").capitalize()}}}
    return sprints


def _budgets(projects: dict[int, dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Budgets 0-2 per project; every fourth project has the budgets module off (its list answers 404)."""
    budgets: dict[int, dict[str, Any]] = {}
    by_project: dict[int, dict[str, Any]] = {}
    for pid, project in projects.items():
        module = pid % 4 != 0
        ids = []
        for n in range(pid % 3 if module else 0):
            bid = len(budgets) + 1
            subject = f"Q{3 + n} 2025 {project['name']}"
            budgets[bid] = {"_type": "Budget", "id": bid, "subject": subject,
                            "_links": {"self": link("budgets", bid, subject), "staticPath": {"href": f"/budgets/{bid}"},
                                       "attachments": {"href": f"/api/v3/budgets/{bid}/attachments"}}}
            ids.append(bid)
        by_project[pid] = {"id": pid, "module": module, "budgets": ids}
    return budgets, by_project


def _storages(rng: random.Random, projects: dict[int, dict[str, Any]], since: datetime,
              ) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """A Nextcloud storage enabled in every project (manual project folders), a OneDrive one in even projects."""
    nextcloud = "https://nextcloud.example.org"
    storages: dict[int, dict[str, Any]] = {
        1: {"_type": "Storage", "id": 1, "name": "Company Nextcloud", "hasApplicationPassword": True,
            "configured": True, "_links": {
                "type": {"href": "urn:openproject-org:api:v3:storages:Nextcloud", "title": "Nextcloud"},
                "origin": {"href": nextcloud}, "open": {"href": f"{nextcloud}/index.php/apps/files"}}},
        2: {"_type": "Storage", "id": 2, "name": "SharePoint", "tenantId": "e36f1dbc-fdae-427e-b61b-0d96ddfb81a4",
            "driveId": "b!FeOZEMfQx0eGQKqVBLcP__BG8mq-4-9FuRqOyk3MXY8Qconfm2i6SKEoCmuGYqQK", "configured": True,
            "_links": {"type": {"href": "urn:openproject-org:api:v3:storages:OneDrive", "title": "OneDrive/SharePoint"},
                       "origin": {"href": None}, "open": {"href": "https://example.sharepoint.com/sites/projects"}}}}
    for sid, storage in storages.items():
        storage["createdAt"], storage["updatedAt"] = _stamps(rng, since)
        storage["_links"].update({
            "self": link("storages", sid, storage["name"]),
            "authorizationState": {"href": "urn:openproject-org:api:v3:storages:authorization:Connected",
                                   "title": "Connected"},
            "oauthApplication": {"href": f"/api/v3/oauth_applications/{sid}"}})
    project_storages: dict[int, dict[str, Any]] = {}
    for pid, project in projects.items():
        for sid in (1, 2) if pid % 2 == 0 else (1,):
            psid = len(project_storages) + 1
            created, updated = _stamps(rng, since)
            links: dict[str, Any] = {"self": {"href": href("project_storages", psid)},
                                     "creator": link("users", 1, "Admin Istrator"),
                                     "storage": link("storages", sid, storages[sid]["name"]),
                                     "project": link("projects", pid, project["name"])}
            if sid == 1:
                links["projectFolder"] = {"href": f"/api/v3/storages/1/files/{100 + pid}"}
            project_storages[psid] = {"_type": "ProjectStorage", "id": psid,
                                      "projectFolderMode": "manual" if sid == 1 else "inactive",
                                      "createdAt": created, "updatedAt": updated, "_links": links}
    return storages, project_storages


def _queries_and_views(rng: random.Random, seed: int, projects: dict[int, dict[str, Any]],
                       users: dict[int, dict[str, Any]], since: datetime,
                       ) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Two global queries and two per project, each shown by one view."""
    owners = sorted(users)
    scopes: list[tuple[int | None, str | None]] = [(None, None), (None, None)]
    scopes += [(pid, p["name"]) for pid, p in projects.items() for _ in range(2)]
    queries: dict[int, dict[str, Any]] = {}
    views: dict[int, dict[str, Any]] = {}
    for qid, (pid, project_name) in enumerate(scopes, 1):
        name = ("All open" if pid is None else f"Open work in {project_name}") + f" ({qid})"
        owner = owners[rng.randrange(len(owners))]
        created, updated = _stamps(rng, since)
        public, starred = qid % 2 == 1, qid % 3 == 0
        project_link = link("projects", pid, project_name) if pid else {"href": None, "title": None}
        results = f"/api/v3/work_packages?filters=%5B%5D&offset=1&pageSize=2&query_id={qid}"
        queries[qid] = {
            "_type": "Query", "id": qid, "name": name,
            "filters": [{"_type": "StatusQueryFilter", "name": "Status", "values": [],
                         "_links": {"filter": {"href": "/api/v3/queries/filters/status", "title": "Status"},
                                    "operator": {"href": "/api/v3/queries/operators/o", "title": "open"},
                                    "schema": {"href": "/api/v3/queries/filter_instance_schemas/status"}}}],
            "sums": False, "public": public, "starred": starred, "hidden": False, "includeSubprojects": True,
            "timelineVisible": qid % 4 == 0, "timelineZoomLevel": "auto", "timelineLabels": {},
            "highlightingMode": "inline", "showHierarchies": True, "timestamps": ["PT0S"],
            "createdAt": created, "updatedAt": updated,
            # The collection embeds each query's results (work packages): the tap must not carry them.
            "_embedded": {"results": {"_type": "WorkPackageCollection", "total": 2, "count": 2, "pageSize": 2,
                                      "offset": 1, "_embedded": {"elements": [
                                          {"_type": "WorkPackage", "id": n, "subject": subject_for(seed, n)}
                                          for n in (1, 2)]}, "_links": {"self": {"href": results}}}},
            "_links": {"self": link("queries", qid, name), "project": project_link,
                       "user": link("users", owner, users[owner]["name"]), "results": {"href": results},
                       "columns": [{"href": f"/api/v3/queries/columns/{col}", "title": col} for col in COLUMNS],
                       "highlightedAttributes": [],
                       "groupBy": ({"href": "/api/v3/queries/group_bys/status", "title": "Status"} if qid % 2
                                   else {"href": None, "title": None}),
                       "sortBy": [{"href": "/api/v3/queries/sort_bys/id-asc", "title": "ID (Ascending)"}],
                       "star": action(f"/api/v3/queries/{qid}/star", "patch"),
                       "update": action(f"/api/v3/queries/{qid}/form", "post")}}
        views[qid] = {"_type": VIEW_TYPES[qid % len(VIEW_TYPES)], "id": qid, "name": name, "public": public,
                      "starred": starred, "createdAt": created, "updatedAt": updated,
                      "_links": {"self": {"href": href("views", qid)}, "query": link("queries", qid, name),
                                 "project": project_link}}
    return queries, views
