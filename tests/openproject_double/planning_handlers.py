"""Answers of the 16.x/17.x per-project routes: a project's sprints and its budgets (data in data_planning.py)."""

from __future__ import annotations

from .handlers import linked, visible_project
from .listing import paged
from .reply import Reply, not_found, unpaginated
from .routing import Request


def project_sprints(req: Request) -> Reply:
    """/api/v3/projects/{id}/sprints (paths/project_sprints.yml): paginated, the project's own sprints (the
    double shares none), id descending like /sprints."""
    project_id = visible_project(req)
    store = req.op.store
    with store.lock:
        items = [s for s in store.collection("sprints").values() if linked("definingWorkspace")(s) == project_id]
    return paged(req.op, "Collection", req.path, req.query, sorted(items, key=lambda s: -s["id"]), None, None)


def project_budgets(req: Request) -> Reply:
    """/api/v3/projects/{id}/budgets (paths/project_budgets.yml): unpaginated; 404 where the budgets module is off."""
    project_id = visible_project(req)
    store = req.op.store
    with store.lock:
        entry = store.collection("budgets_by_project").get(project_id)
        if entry is None or not entry["module"]:
            raise not_found(req.path)
        items = [store.collection("budgets")[b] for b in entry["budgets"] if b in store.collection("budgets")]
    return unpaginated(req.path, items)
