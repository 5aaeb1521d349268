"""Handlers of single resources and small fixed answers: the root, users/me, a resource by id, project lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .data import ANONYMOUS_USER_ID, resource_schema
from .reply import Reply, json_reply, not_found, unpaginated
from .resources import id_from_href
from .routing import Handler, Request


def linked(name: str) -> Callable[[dict[str, Any]], int | None]:
    """Reads the id an item's link ``name`` points to."""
    return lambda item: id_from_href(item["_links"].get(name))


def root(req: Request) -> Reply:
    """/api/v3: the coreVersion (the release's) is shown to admins only."""
    caller = req.caller
    user = req.op.store.get("users", caller.user_id) if not caller.anonymous else None
    body: dict[str, Any] = {"_type": "Root", "instanceName": "OpenProject"}
    if caller.admin:
        body["coreVersion"] = req.op.release.core_version
    body["_links"] = {
        "self": {"href": "/api/v3"}, "configuration": {"href": "/api/v3/configuration"},
        "memberships": {"href": "/api/v3/memberships"}, "priorities": {"href": "/api/v3/priorities"},
        "relations": {"href": "/api/v3/relations"}, "statuses": {"href": "/api/v3/statuses"},
        "timeEntries": {"href": "/api/v3/time_entries"}, "types": {"href": "/api/v3/types"},
        "user": {"href": f"/api/v3/users/{caller.user_id}", "title": user["name"] if user else "Anonymous"},
        "userPreferences": {"href": "/api/v3/my_preferences"}, "workPackages": {"href": "/api/v3/work_packages"},
    }
    return json_reply(body)


def me(req: Request) -> Reply:
    """/api/v3/users/me: the key's user, or the anonymous user."""
    if req.caller.anonymous:
        return json_reply({
            "_type": "User", "id": ANONYMOUS_USER_ID, "name": "Anonymous", "avatar": "",
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
            "_links": {"self": {"href": f"/api/v3/users/{ANONYMOUS_USER_ID}", "title": "Anonymous"},
                       "showUser": {"href": f"/users/{ANONYMOUS_USER_ID}", "type": "text/html"}}})
    user = req.op.store.get("users", req.caller.user_id)
    if user is None:
        raise not_found("/api/v3/users/me")
    return json_reply(user)


def single(collection: str, hidden_from_anonymous: bool = False) -> Handler:
    """A handler answering one resource of ``collection`` by the route's ``id``."""
    return lambda req: resource(req, collection, req.params["id"], hidden_from_anonymous)


def resource(req: Request, collection: str, ident: int, hidden_from_anonymous: bool = False) -> Reply:
    """One resource; anonymous callers see it only when it belongs to a public project (or to none)."""
    if hidden_from_anonymous and req.caller.anonymous:
        raise not_found(req.path)
    item = req.op.store.get(collection, ident)
    if item is None:
        raise not_found(req.path)
    if req.caller.anonymous:
        project_id = _project_of(collection, item)
        if project_id is not None and not req.op.store.project_is_public(project_id):
            raise not_found(req.path)
    return json_reply(item)


def _project_of(collection: str, item: dict[str, Any]) -> int | None:
    if collection == "projects":
        return int(item["id"])
    for name in ("project", "definingProject"):
        if name in item.get("_links", {}):
            return id_from_href(item["_links"][name])
    return None


def project_by_identifier(req: Request) -> Reply:
    """/api/v3/projects/{identifier}: the same answer as by id."""
    store = req.op.store
    with store.lock:
        found = [p["id"] for p in store.collection("projects").values()
                 if p.get("identifier") == req.params["identifier"]]
    if not found:
        raise not_found(req.path)
    return resource(req, "projects", found[0])


def visible_project(req: Request) -> int:
    """The route's ``project`` id; 404 when it does not exist or the caller may not see it."""
    project_id: int = req.params["project"]
    project = req.op.store.get("projects", project_id)
    if project is None or (req.caller.anonymous and not project.get("public")):
        raise not_found(req.path)
    return project_id


def project_types(req: Request) -> Reply:
    """/api/v3/projects/{id}/types: every type is enabled in every project of the double."""
    visible_project(req)
    store = req.op.store
    with store.lock:
        items = sorted(store.collection("types").values(), key=lambda i: i["id"])
    return unpaginated(req.path, items)


def project_items(collection: str, link_name: str) -> Handler:
    """A handler listing the items of ``collection`` whose link ``link_name`` names the route's project."""

    def handler(req: Request) -> Reply:
        project_id = visible_project(req)
        store = req.op.store
        with store.lock:
            items = [i for i in store.collection(collection).values() if linked(link_name)(i) == project_id]
        return unpaginated(req.path, sorted(items, key=lambda i: i["id"]))

    return handler


def schema_of(collection: str) -> Handler:
    """A handler answering /api/v3/{collection}/schema."""
    return lambda req: json_reply(resource_schema(collection))


def project_status_on_track(req: Request) -> Reply:
    """/api/v3/project_statuses/on_track: the one project status the double knows."""
    return json_reply({"_type": "ProjectStatus", "id": "on_track", "name": "On track",
                       "_links": {"self": {"href": req.path, "title": "On track"}}})
