"""The OpenProject 16.x/17.x flat collections: sprints, project phase definitions, labels, budgets, storages,
project storages, views, queries, help texts, time entry activities. Exact id sets against the double, a skip
with one warning where the server lacks a collection (404) or the token may not read it (403), project scoping."""

from __future__ import annotations

import json

import pytest
import requests

from tap_openproject.streams import STREAMS_BY_NAME
from tap_openproject.streams.planning import SprintsStream
from tap_openproject.tap import TapOpenProject
from tests.helpers import API_KEY, config_for, run_sync
from tests.openproject_double import Fault
from tests.openproject_double.resources import id_from_href

NEW_STREAMS = ["sprints", "project_phase_definitions", "labels", "budgets", "storages", "project_storages", "views",
               "queries", "help_texts", "time_entry_activities"]
PROJECTS = (1, 2, 3, 4)  # the default dataset's projects
#: What to switch off on the double to take each collection away: path prefixes (404) and a path regex (403).
MISSING = {name: (f"/api/v3/{name}",) for name in NEW_STREAMS}
MISSING["budgets"] = tuple(f"/api/v3/projects/{p}/budgets" for p in PROJECTS)
MISSING["time_entry_activities"] = ("/api/v3/time_entries/activities",)
FORBIDDEN = {name: rf"^/api/v3/{name}$" for name in NEW_STREAMS}
FORBIDDEN["budgets"] = r"^/api/v3/projects/\d+/budgets$"
FORBIDDEN["time_entry_activities"] = r"^/api/v3/time_entries/activities/\d+$"


def linked_id(item, name):
    return id_from_href(item["_links"][name])


def linked_activities(op, projects=None):
    """The activity ids the double's time entries link (of `projects` only, if given)."""
    return sorted({linked_id(te, "activity") for te in op.store.time_entries.values()
                   if projects is None or linked_id(te, "project") in projects})


def expected(op, stream):
    if stream == "time_entry_activities":
        return linked_activities(op)
    return op.store.ids(stream)


def test_a_full_sync_delivers_exact_id_sets_for_every_new_stream(op):
    result = run_sync(config_for(op), streams=NEW_STREAMS)

    assert result.error is None
    assert not result.tap.run_context.unavailable.reasons
    for stream in NEW_STREAMS:
        assert result.ids(stream), f"the double must hold {stream} for this test to mean anything"
        assert sorted(result.ids(stream)) == expected(op, stream), stream
    assert linked_activities(op) == op.store.ids("time_entry_activities"), "every activity is linked"
    # Each activity read once, by id; no list of activities was asked for.
    activity_gets = [r.path for r in op.requests if r.path.startswith("/api/v3/time_entries/activities")]
    assert sorted(activity_gets) == [f"/api/v3/time_entries/activities/{i}" for i in linked_activities(op)]


def test_records_carry_the_spec_properties_and_links(op):
    result = run_sync(config_for(op), streams=["sprints", "budgets", "storages", "project_storages", "queries"])

    sprints = {r["id"]: r for r in result.records["sprints"]}
    for sid, sprint in op.store.sprints.items():
        assert sprints[sid]["definingWorkspace_id"] == linked_id(sprint, "definingWorkspace")
        assert sprints[sid]["status_id"] == sprint["_links"]["status"]["href"]
    assert {r["status_id"].rsplit(":", 1)[-1] for r in sprints.values()} == {"completed", "active", "in_planning"}
    routes = {s["_links"]["definingWorkspace"]["href"].split("/")[3] for s in op.store.sprints.values()}
    assert routes == {"projects", "workspaces"}, "sprints link their workspace through more than one route"
    budget_projects = {bid: pid for pid, entry in op.store.budgets_by_project.items() for bid in entry["budgets"]}
    assert {r["id"]: r["project_id"] for r in result.records["budgets"]} == budget_projects
    storages = {r["id"]: r for r in result.records["storages"]}
    assert storages[1]["type_id"] == "urn:openproject-org:api:v3:storages:Nextcloud"
    assert storages[1]["origin_href"] == "https://nextcloud.example.org" and storages[2]["origin_href"] is None
    folders = {r["id"]: (r["project_id"], r["storage_id"], r["projectFolder_href"])
               for r in result.records["project_storages"]}
    assert folders == {i: (linked_id(ps, "project"), linked_id(ps, "storage"),
                           ps["_links"].get("projectFolder", {}).get("href"))
                       for i, ps in op.store.project_storages.items()}


def test_a_query_record_holds_its_own_settings_never_its_embedded_results(op):
    result = run_sync(config_for(op), streams=["queries"])

    assert all("results" in q["_embedded"] for q in op.store.queries.values()), "the double embeds results"
    declared = set(STREAMS_BY_NAME["queries"].shape.json_schema()["properties"])
    for record in result.records["queries"]:
        source = op.store.queries[record["id"]]
        assert set(record) == declared
        assert (record["name"], record["filters"], record["public"], record["starred"]) == (
            source["name"], source["filters"], source["public"], source["starred"])
        assert record["project_id"] == linked_id(source, "project")
        assert record["columns_ids"] == ["id", "subject", "type", "status", "assignee", "updatedAt"]
        assert record["sortBy_ids"] == ["id-asc"]
        assert record["groupBy_id"] == ("status" if record["id"] % 2 else None)
    assert "WorkPackage" not in str(result.records["queries"])


@pytest.mark.parametrize("route", ["projects", "programs", "portfolios", "workspaces"])
def test_a_workspace_link_resolves_whatever_its_route(route):
    element = {"_type": "Sprint", "id": 3, "_links": {
        "definingWorkspace": {"href": f"/api/v3/{route}/10", "title": "Scrum project"},
        "status": {"href": "urn:openproject-org:api:v3:sprints:status:in_planning", "title": "In planning"}}}

    record = SprintsStream.shape.flatten(element)

    assert (record["definingWorkspace_id"], record["definingWorkspace_title"]) == (10, "Scrum project")
    assert record["status_id"] == "urn:openproject-org:api:v3:sprints:status:in_planning"


def test_sprints_follow_pages(make_double):
    op = make_double()

    result = run_sync(config_for(op, page_size=5, max_concurrency=1), streams=["sprints"])

    assert result.ids("sprints") == sorted(op.store.ids("sprints"), reverse=True)
    pages = [r.query.get("offset") for r in op.requests if r.path == "/api/v3/sprints"]
    assert pages == ["1", "2", "3"]


def test_a_project_without_the_budgets_module_has_none_and_the_stream_goes_on(op):
    off = [pid for pid, entry in op.store.budgets_by_project.items() if not entry["module"]]
    assert off, "the double must have a project with the budgets module off"

    result = run_sync(config_for(op), streams=["budgets"])

    assert result.error is None and "budgets" not in result.tap.run_context.unavailable
    assert sorted(result.ids("budgets")) == op.store.ids("budgets")
    answers = {r.path: r.status for r in op.requests if r.path.endswith("/budgets")}
    assert answers == {f"/api/v3/projects/{p}/budgets": 404 if p in off else 200 for p in PROJECTS}


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_a_new_stream_the_server_lacks_is_skipped_with_a_warning(make_double, caplog, stream):
    op = make_double(missing_collections=MISSING[stream])

    result = run_sync(config_for(op), streams=[stream, "statuses"])

    assert result.error is None
    reasons = result.tap.run_context.unavailable.reasons
    assert set(reasons) == {stream} and "404" in reasons[stream]
    assert stream not in result.records
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum(w.startswith(f"Skipping stream {stream}:") for w in warnings) == 1


@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_a_new_stream_the_token_may_not_read_is_skipped_with_a_warning(make_double, caplog, stream):
    op = make_double()
    op.add_fault(Fault("status", path=FORBIDDEN[stream], status=403, error="MissingPermission",
                       message="You are not authorized to access this resource."))

    result = run_sync(config_for(op), streams=[stream, "statuses"])

    assert result.error is None
    reasons = result.tap.run_context.unavailable.reasons
    assert set(reasons) == {stream} and "403" in reasons[stream]
    assert stream not in result.records
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum(w.startswith(f"Skipping stream {stream}:") for w in warnings) == 1


def test_project_ids_scope_every_new_stream_that_has_a_project_filter_or_route(op):
    scope = {2, 3}
    for entry in op.store.time_entries.values():  # the scoped projects' time entries use one activity only
        if linked_id(entry, "project") in scope:
            entry["_links"]["activity"] = {"href": "/api/v3/time_entries/activities/2", "title": "Specification"}
    assert linked_activities(op, scope) == [2] and len(linked_activities(op)) > 1

    result = run_sync(config_for(op, project_ids=sorted(scope)), streams=NEW_STREAMS)

    assert result.error is None and not result.tap.run_context.unavailable.reasons

    def in_scope(collection, link_name):
        return sorted(i for i, item in op.store.collection(collection).items() if linked_id(item, link_name) in scope)

    assert sorted(result.ids("sprints")) == in_scope("sprints", "definingWorkspace")
    assert sorted(result.ids("project_storages")) == in_scope("project_storages", "project")
    for stream in ("views", "queries"):  # the scoped projects' ones and the global ones (of no project)
        global_ones = [i for i, item in op.store.collection(stream).items() if linked_id(item, "project") is None]
        assert global_ones, f"the double must hold global {stream}"
        assert sorted(result.ids(stream)) == sorted(in_scope(stream, "project") + global_ones), stream
    assert sorted(result.ids("budgets")) == sorted(b for p in scope for b in op.store.budgets_by_project[p]["budgets"])
    assert sorted(result.ids("time_entry_activities")) == [2]
    for stream in ("project_phase_definitions", "labels", "storages", "help_texts"):  # instance-wide lists
        assert sorted(result.ids(stream)) == op.store.ids(stream), stream
    budget_routes = sorted(r.path for r in op.requests if r.path.endswith("/budgets"))
    assert budget_routes == ["/api/v3/projects/2/budgets", "/api/v3/projects/3/budgets"]
    every_project = [r for r in op.requests if r.path == "/api/v3/projects" and "filters" not in r.query]
    assert not every_project, "budgets read no list of every project when scoped"
    filters = {r.path: r.query.get("filters") for r in op.requests}
    assert filters["/api/v3/sprints"] == '[{"definingWorkspace":{"operator":"=","values":["2","3"]}}]'
    assert filters["/api/v3/time_entries"] == '[{"project":{"operator":"=","values":["2","3"]}}]'
    queries = sorted(r.query.get("filters") for r in op.requests if r.path == "/api/v3/queries")
    assert queries == ['[{"project":{"operator":"!*","values":[]}}]', '[{"project":{"operator":"=","values":["2","3"]}}]']


def test_the_new_streams_are_full_table_and_a_second_run_delivers_what_changed(op):
    # None of these collections sorts on updatedAt (paths/*.yml): FULL_TABLE, so a run sees every change.
    streams = TapOpenProject(config=config_for(op)).streams
    assert {s: streams[s].replication_method for s in NEW_STREAMS} == dict.fromkeys(NEW_STREAMS, "FULL_TABLE")
    first = run_sync(config_for(op), streams=NEW_STREAMS)
    op.store.sprints[2]["name"] = "Sprint renamed"
    op.store.touch("sprints", 2)
    del op.store.labels[5]

    second = run_sync(config_for(op), streams=NEW_STREAMS, state=first.final_state)

    assert second.error is None
    assert {r["id"]: r["name"] for r in second.records["sprints"]}[2] == "Sprint renamed"
    assert sorted(second.ids("labels")) == [1, 2, 3, 4]
    for stream in NEW_STREAMS:
        assert sorted(second.ids(stream)) == expected(op, stream), stream


def _get(op, path, filters=None):
    params = {"filters": json.dumps(filters)} if filters is not None else {}
    response = requests.get(op.url + path, params=params, auth=("apikey", API_KEY), timeout=10)
    return response.status_code, response.json()


def test_the_double_pages_and_filters_each_collection_as_the_spec_says(op):
    # Paginated (offset_paginated_collection_model / Index endpoints) or one unpaginated answer (collection_model).
    for path, paginated in (("/api/v3/sprints", True), ("/api/v3/project_phase_definitions", True),
                            ("/api/v3/views", True), ("/api/v3/projects/2/sprints", True), ("/api/v3/labels", False),
                            ("/api/v3/storages", False), ("/api/v3/project_storages", False),
                            ("/api/v3/queries", False), ("/api/v3/help_texts", False),
                            ("/api/v3/projects/1/budgets", False)):
        status, body = _get(op, path)
        assert (status, body["_type"], "pageSize" in body) == (200, "Collection", paginated), path
    _, body = _get(op, "/api/v3/sprints", [{"definingWorkspace": {"operator": "=", "values": ["2"]}}])
    assert sorted(e["id"] for e in body["_embedded"]["elements"]) == [
        i for i, s in op.store.sprints.items() if linked_id(s, "definingWorkspace") == 2]
    _, body = _get(op, "/api/v3/project_storages", [{"storage_id": {"operator": "=", "values": ["2"]}}])
    assert {linked_id(e, "storage") for e in body["_embedded"]["elements"]} == {2}
    _, body = _get(op, "/api/v3/labels")
    names = [e["name"] for e in body["_embedded"]["elements"]]
    assert names == sorted(names), "labels come sorted by name"
    status, body = _get(op, "/api/v3/projects/4/budgets")  # the budgets module is off in project 4
    assert (status, body["errorIdentifier"]) == (404, "urn:openproject-org:api:v3:errors:NotFound")
    status, body = _get(op, "/api/v3/time_entries/activities")  # the API has no list of activities
    assert status == 404


def test_time_entries_without_a_readable_activity_link_are_passed_over(op):
    entries = sorted(op.store.time_entries)
    op.store.time_entries[entries[0]]["_links"]["activity"] = {"href": None}
    op.store.time_entries[entries[1]]["_links"]["activity"] = {"href": "urn:openproject-org:api:v3:undisclosed"}
    linked = sorted({linked_id(te, "activity") for te in op.store.time_entries.values()} - {None})

    result = run_sync(config_for(op), streams=["time_entry_activities"])

    assert result.error is None and not result.tap.run_context.unavailable.reasons
    assert sorted(result.ids("time_entry_activities")) == linked
