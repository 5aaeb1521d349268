"""The OpenProject double behaves like the real API v3 (shared/openproject-api.md), over real HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.openproject_double import Dataset, Fault, OpenProjectDouble
from tests.openproject_double.api import ROUTES, Endpoint, Route, RouteTable
from tests.openproject_double.data import CLOSED_STATUS_IDS
from tests.openproject_double.listing import UPDATED_AT, generic_sorts
from tests.openproject_double.reply import json_reply

KEY = "test-key-for-double"
UTC = timezone.utc


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(work_packages=120, seed=7)


@pytest.fixture()
def op(dataset: Dataset) -> Iterator[OpenProjectDouble]:
    with OpenProjectDouble(dataset, api_key=KEY, extra_api_keys={"reader-key": False}) as double:
        yield double


def call(op: OpenProjectDouble, path: str, params: dict[str, Any] | None = None, key: str | None = KEY,
         bearer: bool = False) -> tuple[int, dict[str, str], bytes]:
    """GET path (+ JSON-encoded params) and return (status, headers, raw body); HTTP errors are returned too."""
    query = "&".join(f"{k}={quote(v if isinstance(v, str) else json.dumps(v))}" for k, v in (params or {}).items())
    request = urllib.request.Request(op.url + path + (f"?{query}" if query else ""))
    if key is not None:
        token = f"Bearer {key}" if bearer else "Basic " + base64.b64encode(f"apikey:{key}".encode()).decode()
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get(op: OpenProjectDouble, path: str, params: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any]:
    status, _, body = call(op, path, params, **kw)
    return status, json.loads(body)


def ids(body: dict[str, Any]) -> list[int]:
    return [element["id"] for element in body["_embedded"]["elements"]]


def all_wp_ids(op: OpenProjectDouble, filters: list[Any]) -> list[int]:
    status, body = get(op, "/api/v3/work_packages", {"filters": filters, "pageSize": "1000"})
    assert status == 200
    return ids(body)


# --- paging ----------------------------------------------------------------------------------------------
def test_offset_is_a_page_number_and_pages_partition_the_collection(op: OpenProjectDouble) -> None:
    pages = [get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "50", "offset": str(n)})[1]
             for n in (1, 2, 3)]
    assert [p["offset"] for p in pages] == [1, 2, 3]
    assert ids(pages[1])[0] == 51 and ids(pages[2]) == list(range(101, 121))
    assert "nextByOffset" in pages[1]["_links"] and "nextByOffset" not in pages[2]["_links"]
    assert "previousByOffset" not in pages[0]["_links"] and "previousByOffset" in pages[1]["_links"]


@pytest.mark.parametrize("offset", ["0", "-3", "abc"])
def test_bad_offsets_mean_page_one(op: OpenProjectDouble, offset: str) -> None:
    _, body = get(op, "/api/v3/projects", {"offset": offset, "pageSize": "2"})
    assert body["offset"] == 1 and len(ids(body)) == 2


def test_page_size_is_silently_capped_and_read_back(op: OpenProjectDouble) -> None:
    op.max_page_size = 50
    status, body = get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "500"})
    assert status == 200 and body["pageSize"] == 50 and body["count"] == 50 and body["total"] == 120
    assert get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "-1"})[1]["pageSize"] == 50
    assert get(op, "/api/v3/work_packages", {"filters": []})[1]["pageSize"] == 20


def test_page_size_zero_counts_and_past_the_end_is_empty(op: OpenProjectDouble) -> None:
    _, count_only = get(op, "/api/v3/time_entries", {"pageSize": "0"})
    assert count_only["total"] == 60 and count_only["_embedded"]["elements"] == []
    _, past = get(op, "/api/v3/time_entries", {"pageSize": "50", "offset": "9"})
    assert past["total"] == 60 and past["count"] == 0 and "nextByOffset" not in past["_links"]


def test_generic_collections_default_to_id_descending(op: OpenProjectDouble) -> None:
    _, body = get(op, "/api/v3/time_entries", {"pageSize": "1000"})
    assert ids(body) == sorted(op.store.ids("time_entries"), reverse=True)


def test_unpaginated_collections_have_no_page_keys(op: OpenProjectDouble) -> None:
    for path in ("/api/v3/statuses", "/api/v3/types", "/api/v3/priorities", "/api/v3/roles", "/api/v3/versions",
                 "/api/v3/work_packages/5/activities", "/api/v3/projects/1/categories"):
        status, body = get(op, path, {"pageSize": "1"})
        assert status == 200 and "pageSize" not in body and "offset" not in body, path
        assert body["count"] == body["total"] == len(body["_embedded"]["elements"]) >= 1, path
    _, statuses = get(op, "/api/v3/statuses")
    assert [(s["id"], s["isClosed"]) for s in statuses["_embedded"]["elements"]] == [
        (1, False), (2, False), (3, False), (4, True), (5, True), (6, True)]


# --- filters and sorting -----------------------------------------------------------------------------------
def test_work_packages_default_to_open_only_but_empty_filters_return_all(op: OpenProjectDouble) -> None:
    closed = {i for i in op.store.ids("work_packages") if op.store.rows[i].status_id in CLOSED_STATUS_IDS}
    assert 20 <= len(closed) <= 60
    _, default = get(op, "/api/v3/work_packages", {"pageSize": "1000"})
    assert set(ids(default)) == set(op.store.ids("work_packages")) - closed
    assert all_wp_ids(op, []) == op.store.ids("work_packages")
    assert set(all_wp_ids(op, [{"status": {"operator": "c", "values": []}}])) == closed


def test_singular_filter_is_read_by_work_packages_only(op: OpenProjectDouble) -> None:
    _, wps = get(op, "/api/v3/work_packages", {"filter": [], "pageSize": "1000"})
    assert wps["total"] == 120
    only_project_1 = [{"project": {"operator": "=", "values": ["1"]}}]
    _, entries = get(op, "/api/v3/time_entries", {"filter": only_project_1, "pageSize": "1000"})
    assert entries["total"] == 60  # ignored
    _, filtered = get(op, "/api/v3/time_entries", {"filters": only_project_1, "pageSize": "1000"})
    assert 0 < filtered["total"] < 60


def test_between_filter_includes_both_bounds_at_second_precision(op: OpenProjectDouble) -> None:
    op.store.touch("work_packages", 10, datetime(2030, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC))
    op.store.touch("work_packages", 11, datetime(2030, 1, 1, 10, 0, 5, tzinfo=UTC))
    op.store.touch("work_packages", 12, datetime(2030, 1, 1, 10, 0, 6, tzinfo=UTC))
    between = [{"updatedAt": {"operator": "<>d", "values": ["2030-01-01T10:00:00.900Z", "2030-01-01T10:00:05Z"]}}]
    assert all_wp_ids(op, between) == [10, 11]
    assert all_wp_ids(op, [{"updatedAt": {"operator": "<>d", "values": ["2030-01-01T10:00:05Z", ""]}}]) == [11, 12]
    assert all_wp_ids(op, [{"updatedAt": {"operator": "<>d", "values": ["2030-01-01T10:00:06"]}}]) == [12]
    assert all_wp_ids(op, [{"updatedAt": {"operator": "<>d", "values": ["2030-01-01", "2030-01-01"]}}]) == [10, 11, 12]


def test_relative_datetime_operators_use_the_store_clock(op: OpenProjectDouble) -> None:
    op.store.set_clock(datetime(2031, 5, 10, 12, 0, tzinfo=UTC))
    op.store.touch("work_packages", 20)
    op.store.touch("work_packages", 21, datetime(2031, 5, 8, 9, 0, tzinfo=UTC))
    assert all_wp_ids(op, [{"updatedAt": {"operator": "t", "values": []}}]) == [20]
    assert all_wp_ids(op, [{"updatedAt": {"operator": ">t-", "values": ["2"]}}]) == [20, 21]
    assert all_wp_ids(op, [{"updatedAt": {"operator": "t-", "values": ["2"]}}]) == [21]


def test_greater_or_equal_on_a_datetime_is_400_and_several_bad_filters_422(op: OpenProjectDouble) -> None:
    status, body = get(op, "/api/v3/work_packages", {"filters": [{"updatedAt": {"operator": ">=", "values": ["2024-01-01"]}}]})
    assert status == 400 and body["errorIdentifier"] == "urn:openproject-org:api:v3:errors:InvalidQuery"
    two_bad = [{"updatedAt": {"operator": ">=", "values": ["x"]}}, {"nonsense": {"operator": "=", "values": ["1"]}}]
    status, body = get(op, "/api/v3/work_packages", {"filters": two_bad})
    assert status == 422 and body["errorIdentifier"].endswith(":MultipleErrors")
    assert len(body["_embedded"]["errors"]) == 2
    assert get(op, "/api/v3/memberships", {"filters": "not json"})[0] == 400
    assert get(op, "/api/v3/users", {"filters": "not json"})[0] == 200  # no filter support: ignored


def test_projects_updated_at_filter_depends_on_the_server_version(op: OpenProjectDouble) -> None:
    recent = [{"updatedAt": {"operator": "<>d", "values": ["2000-01-01T00:00:00Z", ""]}}]
    assert get(op, "/api/v3/projects", {"filters": recent})[1]["total"] == 4
    op.projects_updated_at_filter = False
    status, body = get(op, "/api/v3/projects", {"filters": recent})
    assert status == 400 and body["errorIdentifier"].endswith(":InvalidQuery")
    assert get(op, "/api/v3/projects", {"sortBy": [["updatedAt", "asc"]]})[0] == 400


def test_sort_by_updated_at_then_id(op: OpenProjectDouble) -> None:
    _, body = get(op, "/api/v3/work_packages",
                  {"filters": [], "sortBy": [["updatedAt", "asc"], ["id", "asc"]], "pageSize": "1000"})
    elements = body["_embedded"]["elements"]
    keys = [(datetime.fromisoformat(e["updatedAt"].replace("Z", "+00:00")), e["id"]) for e in elements]
    assert keys == sorted(keys) and len(keys) == 120
    seconds = [e["updatedAt"][:19] for e in elements]
    assert max(seconds.count(s) for s in seconds) >= 5  # the bulk-edit burst
    assert get(op, "/api/v3/work_packages", {"sortBy": [["colour", "asc"]]})[0] == 400
    assert get(op, "/api/v3/time_entries", {"sortBy": "[["})[0] == 400


def test_select_returns_ids_only_and_rejects_unknown_properties(op: OpenProjectDouble) -> None:
    _, body = get(op, "/api/v3/work_packages", {"filters": [], "select": "total,elements/id", "pageSize": "1000"})
    assert body["total"] == 120 and body["_embedded"]["elements"][:2] == [{"id": 1}, {"id": 2}]
    status, error = get(op, "/api/v3/projects", {"select": "total,elements/bogus"})
    assert status == 400 and error["errorIdentifier"].endswith(":InvalidSignal")
    op.supports_select = False
    _, full = get(op, "/api/v3/projects", {"select": "total,elements/id"})
    assert full["_embedded"]["elements"][0]["_type"] == "Project"


def test_work_package_shape_links_and_embedded_schemas(op: OpenProjectDouble) -> None:
    _, body = get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "1000"})
    elements = body["_embedded"]["elements"]
    wp = elements[0]
    for prop in ("lockVersion", "subject", "description", "startDate", "derivedDueDate", "estimatedTime",
                 "spentTime", "percentageDone", "readonly", "createdAt", "updatedAt", "customField6"):
        assert prop in wp, prop
    for rel in ("schema", "project", "status", "author", "assignee", "responsible", "parent", "ancestors",
                "children", "customField7", "customField8", "customField9", "customField10", "update", "logTime"):
        assert rel in wp["_links"], rel
    links = [e["_links"] for e in elements]
    assert any(link["parent"]["href"] for link in links) and any(link["children"] for link in links)
    assert any(link["responsible"]["href"] == "urn:openproject-org:api:v3:undisclosed" for link in links)
    assert any(link["assignee"]["href"] is None for link in links)
    assert any(e["updatedAt"].endswith(".000Z") is False and len(e["updatedAt"]) == 24 for e in elements)
    schemas = body["_embedded"]["schemas"]["_embedded"]["elements"]
    assert {s["_links"]["self"]["href"] for s in schemas} == {e["_links"]["schema"]["href"] for e in elements}
    assert schemas[0]["customField8"]["type"] == "[]CustomOption" and schemas[0]["customField8"]["location"] == "_links"
    status, by_filter = get(op, "/api/v3/work_packages/schemas", {"filters": [{"id": {"operator": "=", "values": ["1-1"]}}]})
    assert status == 200 and by_filter["_embedded"]["elements"][0]["customField1"]["type"] == "String"
    assert get(op, "/api/v3/custom_fields")[0] == 404


# --- auth and errors ---------------------------------------------------------------------------------------
def test_missing_or_wrong_key_is_401_with_basic_challenge(op: OpenProjectDouble) -> None:
    for key in (None, "wrong"):
        status, headers, body = call(op, "/api/v3/work_packages", key=key)
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="OpenProject API"'
        assert json.loads(body)["errorIdentifier"] == "urn:openproject-org:api:v3:errors:Unauthenticated"
    assert get(op, "/api/v3/users/me", bearer=True)[1]["login"] == "admin"


def test_non_admin_key_cannot_list_users_but_sees_principals(op: OpenProjectDouble) -> None:
    status, body = get(op, "/api/v3/users", key="reader-key")
    assert status == 403 and body["errorIdentifier"].endswith(":MissingPermission")
    assert get(op, "/api/v3/placeholder_users", key="reader-key")[0] == 403
    assert get(op, "/api/v3/principals", key="reader-key")[1]["total"] == 10
    assert "coreVersion" not in get(op, "/api/v3", key="reader-key")[1]
    assert get(op, "/api/v3")[1]["coreVersion"] == "15.4.0"
    op.admin = False
    assert get(op, "/api/v3/users")[0] == 403


def test_unknown_and_missing_collections_are_404_not_found(op: OpenProjectDouble) -> None:
    op.missing_collections = ("/api/v3/meetings",)
    for path in ("/api/v3/nope", "/api/v3/meetings", "/api/v3/work_packages/99999"):
        status, body = get(op, path)
        assert status == 404 and body["errorIdentifier"] == "urn:openproject-org:api:v3:errors:NotFound", path


def test_anonymous_fallback_serves_public_data_only(op: OpenProjectDouble) -> None:
    op.login_required = False
    status, me = get(op, "/api/v3/users/me", key=None)
    assert status == 200 and me["name"] == "Anonymous" and "login" not in me
    public = {p["id"] for p in op.store.projects.values() if p["public"]}
    _, projects = get(op, "/api/v3/projects", key=None)
    assert set(ids(projects)) == public
    _, wps = get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "1000"}, key=None)
    assert 0 < wps["total"] < 120
    assert {int(e["_links"]["project"]["href"].rsplit("/", 1)[1]) for e in wps["_embedded"]["elements"]} <= public
    assert get(op, "/api/v3/users", key=None)[0] == 403


# --- faults ------------------------------------------------------------------------------------------------
def test_status_fault_applies_n_times_then_recovers(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("status", path=r"/work_packages$", times=2, status=503, body="html"))
    first = call(op, "/api/v3/work_packages")
    assert first[0] == 503 and first[1]["Content-Type"].startswith("text/html")
    assert call(op, "/api/v3/work_packages")[0] == 503
    assert call(op, "/api/v3/work_packages")[0] == 200
    assert [(r.status, r.fault) for r in op.requests] == [(503, "status"), (503, "status"), (200, None)]


def test_rate_limit_fault_headers(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("rate_limit", times=1, retry_after="3"))
    op.add_fault(Fault("rate_limit", times=1, retry_after=None, ratelimit_reset=1_900_000_000))
    status, headers, body = call(op, "/api/v3/projects")
    assert status == 429 and headers["Retry-After"] == "3"
    assert json.loads(body)["errorIdentifier"].endswith(":Throttled")
    status, headers, _ = call(op, "/api/v3/projects")
    assert "Retry-After" not in headers and headers["RateLimit-Reset"] == "1900000000"
    assert headers["RateLimit-Remaining"] == "0"


def test_stall_fault_delays_the_answer(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("stall", times=1, seconds=0.3))
    started = time.monotonic()
    assert call(op, "/api/v3/statuses")[0] == 200
    assert time.monotonic() - started >= 0.3
    op.add_fault(Fault("stall", times=1, seconds=1.0))
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(op.url + "/api/v3/statuses", timeout=0.2)


def test_truncated_json_and_wrong_content_type(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("truncated_json", times=1))
    op.add_fault(Fault("wrong_content_type", times=1))
    status, headers, body = call(op, "/api/v3/projects")
    assert status == 200 and headers["Content-Type"].startswith("application/hal+json")
    assert int(headers["Content-Length"]) == len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    status, headers, body = call(op, "/api/v3/projects")
    assert headers["Content-Type"].startswith("text/plain") and json.loads(body)["_type"] == "Collection"


def test_undercount_rewrites_total_and_next_link_of_collection_answers(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("undercount", path=r"^/api/v3/work_packages$", by=30))
    body = json.loads(call(op, "/api/v3/work_packages", {"pageSize": "50", "offset": "2", "filters": []})[2])
    assert body["total"] == 120 - 30 and body["count"] == len(body["_embedded"]["elements"]) == 50
    assert "nextByOffset" not in body["_links"], "2 * 50 >= 90: the server links no further page"
    body = json.loads(call(op, "/api/v3/work_packages", {"pageSize": "50", "offset": "3", "filters": []})[2])
    assert body["total"] == 90 and len(body["_embedded"]["elements"]) == 20, "the rows are still there"
    assert json.loads(call(op, "/api/v3/statuses")[2])["total"] == len(op.store.ids("statuses")), "path-scoped"


def test_malformed_element_blanks_one_field_of_one_element(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("malformed_element", path=r"^/api/v3/relations$", times=1, element=2))
    op.add_fault(Fault("malformed_element", path=r"^/api/v3/relations$", times=1, element=1, field="name", value=7))
    first = json.loads(call(op, "/api/v3/relations", {"pageSize": "3"})[2])["_embedded"]["elements"]
    second = json.loads(call(op, "/api/v3/relations", {"pageSize": "3"})[2])["_embedded"]["elements"]
    assert "id" in first[0] and "id" not in first[1] and "id" in first[2]
    assert second[0]["name"] == 7 and isinstance(second[0]["id"], int)
    assert [r.fault for r in op.requests] == ["malformed_element", "malformed_element"]


def test_short_body_and_close_break_the_connection(op: OpenProjectDouble) -> None:
    op.add_fault(Fault("short_body", times=1))
    op.add_fault(Fault("close", times=1))
    with pytest.raises(http.client.IncompleteRead):
        call(op, "/api/v3/projects")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        call(op, "/api/v3/projects")
    assert call(op, "/api/v3/projects")[0] == 200
    assert [r.fault for r in op.requests] == ["short_body", "close", None]


def test_html_200_and_redirect(op: OpenProjectDouble, dataset: Dataset) -> None:
    op.add_fault(Fault("html_200", times=1))
    status, headers, body = call(op, "/api/v3/projects")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"maintenance" in body
    with OpenProjectDouble(dataset, api_key="other") as other:
        op.add_fault(Fault("redirect", times=1, status=302, location=other.url + "/api/v3/projects"))
        request = urllib.request.Request(op.url + "/api/v3/projects")
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(request, timeout=5)
        assert caught.value.code == 302 and caught.value.headers["Location"] == other.url + "/api/v3/projects"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_keep_alive_connections_survive_several_requests(op: OpenProjectDouble) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", op.port, timeout=5)
    auth = {"Authorization": "Bearer " + KEY}
    for _ in range(3):
        connection.request("GET", "/api/v3/statuses", headers=auth)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["total"] == 6
    connection.close()
    assert {r.headers.get("Authorization") for r in op.requests} == {"Bearer " + KEY}


# --- data changing between pages -----------------------------------------------------------------------------
def test_on_request_hook_can_change_data_between_pages(op: OpenProjectDouble) -> None:
    def delete_first_wp_before_page_two(double: OpenProjectDouble, request: Any) -> None:
        if request.query.get("offset") == "2" and 1 in double.store.rows:
            double.store.delete("work_packages", 1)

    op.on_request = delete_first_wp_before_page_two
    page1 = ids(get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "10", "offset": "1"})[1])
    page2 = ids(get(op, "/api/v3/work_packages", {"filters": [], "pageSize": "10", "offset": "2"})[1])
    assert page1 == list(range(1, 11)) and page2 == list(range(12, 22))  # id 11 slid onto page 1: missed


# --- the route table ---------------------------------------------------------------------------------------
#: One path per route of the table (the routes it reaches are checked below), and its answer's _type.
ROUTE_SAMPLES: dict[str, tuple[str, str]] = {
    "/api/v3": ("/api/v3", "Root"),
    "/api/v3/users/me": ("/api/v3/users/me", "User"),
    "/api/v3/work_packages": ("/api/v3/work_packages", "WorkPackageCollection"),
    "/api/v3/work_packages/schemas": ("/api/v3/work_packages/schemas", "Collection"),
    "/api/v3/work_packages/schemas/{key}": ("/api/v3/work_packages/schemas/2-3", "Schema"),
    "/api/v3/work_packages/{id:int}": ("/api/v3/work_packages/5", "WorkPackage"),
    "/api/v3/work_packages/{id:int}/activities": ("/api/v3/work_packages/5/activities", "Collection"),
    "/api/v3/work_packages/{id:int}/attachments": ("/api/v3/work_packages/5/attachments", "Collection"),
    "/api/v3/projects/{project:int}/work_packages": ("/api/v3/projects/1/work_packages", "WorkPackageCollection"),
    "/api/v3/projects/{project:int}/types": ("/api/v3/projects/1/types", "Collection"),
    "/api/v3/projects/{project:int}/categories": ("/api/v3/projects/1/categories", "Collection"),
    "/api/v3/projects/{project:int}/versions": ("/api/v3/projects/1/versions", "Collection"),
    "/api/v3/projects/schema": ("/api/v3/projects/schema", "Schema"),
    "/api/v3/time_entries/schema": ("/api/v3/time_entries/schema", "Schema"),
    "/api/v3/users/schema": ("/api/v3/users/schema", "Schema"),
    "/api/v3/versions/schema": ("/api/v3/versions/schema", "Schema"),
    "/api/v3/projects": ("/api/v3/projects", "Collection"),
    "/api/v3/projects/{id:int}": ("/api/v3/projects/2", "Project"),
    "/api/v3/projects/{identifier}": ("/api/v3/projects/project-3", "Project"),
    "/api/v3/relations": ("/api/v3/relations", "Collection"),
    "/api/v3/relations/{id:int}": ("/api/v3/relations/1", "Relation"),
    "/api/v3/time_entries": ("/api/v3/time_entries", "Collection"),
    "/api/v3/time_entries/{id:int}": ("/api/v3/time_entries/1", "TimeEntry"),
    "/api/v3/time_entries/activities/{id:int}": ("/api/v3/time_entries/activities/3", "TimeEntriesActivity"),
    "/api/v3/memberships": ("/api/v3/memberships", "Collection"),
    "/api/v3/memberships/{id:int}": ("/api/v3/memberships/1", "Membership"),
    "/api/v3/users": ("/api/v3/users", "Collection"),
    "/api/v3/users/{id:int}": ("/api/v3/users/4", "User"),
    "/api/v3/groups": ("/api/v3/groups", "Collection"),
    "/api/v3/groups/{id:int}": ("/api/v3/groups/9", "Group"),
    "/api/v3/placeholder_users": ("/api/v3/placeholder_users", "Collection"),
    "/api/v3/placeholder_users/{id:int}": ("/api/v3/placeholder_users/11", "PlaceholderUser"),
    "/api/v3/principals": ("/api/v3/principals", "Collection"),
    "/api/v3/news": ("/api/v3/news", "Collection"),
    "/api/v3/news/{id:int}": ("/api/v3/news/1", "News"),
    "/api/v3/documents": ("/api/v3/documents", "Collection"),
    "/api/v3/documents/{id:int}": ("/api/v3/documents/1", "Document"),
    "/api/v3/meetings": ("/api/v3/meetings", "Collection"),
    "/api/v3/meetings/{id:int}": ("/api/v3/meetings/1", "Meeting"),
    "/api/v3/statuses": ("/api/v3/statuses", "Collection"),
    "/api/v3/statuses/{id:int}": ("/api/v3/statuses/4", "Status"),
    "/api/v3/types": ("/api/v3/types", "Collection"),
    "/api/v3/types/{id:int}": ("/api/v3/types/2", "Type"),
    "/api/v3/priorities": ("/api/v3/priorities", "Collection"),
    "/api/v3/priorities/{id:int}": ("/api/v3/priorities/8", "Priority"),
    "/api/v3/roles": ("/api/v3/roles", "Collection"),
    "/api/v3/roles/{id:int}": ("/api/v3/roles/3", "Role"),
    "/api/v3/versions": ("/api/v3/versions", "Collection"),
    "/api/v3/versions/{id:int}": ("/api/v3/versions/1", "Version"),
    "/api/v3/categories/{id:int}": ("/api/v3/categories/1", "Category"),
    "/api/v3/custom_options/{id:int}": ("/api/v3/custom_options/1", "CustomOption"),
    "/api/v3/activities/{id:int}": ("/api/v3/activities/101", "Activity"),
    "/api/v3/attachments/{id:int}": ("/api/v3/attachments/2", "Attachment"),
    "/api/v3/project_statuses/on_track": ("/api/v3/project_statuses/on_track", "ProjectStatus"),
    # 16.x/17.x planning, storage, configuration (data_planning.py)
    "/api/v3/sprints": ("/api/v3/sprints", "Collection"),
    "/api/v3/sprints/{id:int}": ("/api/v3/sprints/2", "Sprint"),
    "/api/v3/projects/{project:int}/sprints": ("/api/v3/projects/2/sprints", "Collection"),
    "/api/v3/project_phase_definitions": ("/api/v3/project_phase_definitions", "Collection"),
    "/api/v3/project_phase_definitions/{id:int}": ("/api/v3/project_phase_definitions/1", "ProjectPhaseDefinition"),
    "/api/v3/labels": ("/api/v3/labels", "Collection"),
    "/api/v3/labels/{id:int}": ("/api/v3/labels/2", "Label"),
    "/api/v3/projects/{project:int}/budgets": ("/api/v3/projects/1/budgets", "Collection"),
    "/api/v3/budgets/{id:int}": ("/api/v3/budgets/1", "Budget"),
    "/api/v3/storages": ("/api/v3/storages", "Collection"),
    "/api/v3/storages/{id:int}": ("/api/v3/storages/1", "Storage"),
    "/api/v3/project_storages": ("/api/v3/project_storages", "Collection"),
    "/api/v3/project_storages/{id:int}": ("/api/v3/project_storages/1", "ProjectStorage"),
    "/api/v3/queries": ("/api/v3/queries", "Collection"),
    "/api/v3/queries/{id:int}": ("/api/v3/queries/3", "Query"),
    "/api/v3/views": ("/api/v3/views", "Collection"),
    "/api/v3/views/{id:int}": ("/api/v3/views/3", "Views::WorkPackagesTable"),
    "/api/v3/help_texts": ("/api/v3/help_texts", "Collection"),
    "/api/v3/help_texts/{id:int}": ("/api/v3/help_texts/1", "HelpText"),
    "/api/v3/work_packages/{id:int}/watchers": ("/api/v3/work_packages/2/watchers", "Collection"),
    "/api/v3/work_packages/{id:int}/file_links": ("/api/v3/work_packages/5/file_links", "Collection"),
    "/api/v3/meetings/{id:int}/sections": ("/api/v3/meetings/2/sections", "Collection"),
    "/api/v3/meetings/{id:int}/agenda_items": ("/api/v3/meetings/2/agenda_items", "Collection"),
    "/api/v3/meetings/{meeting:int}/agenda_items/{id:int}": ("/api/v3/meetings/2/agenda_items/1", "MeetingAgendaItem"),
    "/api/v3/meetings/{meeting:int}/agenda_items/{id:int}/outcomes": ("/api/v3/meetings/2/agenda_items/1/outcomes",
                                                                       "Collection"),
    "/api/v3/meeting_sections/{id:int}": ("/api/v3/meeting_sections/1", "MeetingSection"),
    "/api/v3/meeting_agenda_items/{id:int}": ("/api/v3/meeting_agenda_items/1", "MeetingAgendaItem"),
    "/api/v3/meeting_outcomes/{id:int}": ("/api/v3/meeting_outcomes/1", "MeetingOutcome"),
    "/api/v3/days/non_working": ("/api/v3/days/non_working", "Collection"),
    "/api/v3/days/week": ("/api/v3/days/week", "Collection"),
    "/api/v3/days/week/{id:int}": ("/api/v3/days/week/6", "WeekDay"),
    "/api/v3/custom_fields/{id:int}": ("/api/v3/custom_fields/13", "CustomField"),
    "/api/v3/custom_fields/{id:int}/items": ("/api/v3/custom_fields/14/items", "Collection"),
    "/api/v3/custom_field_items/{id:int}": ("/api/v3/custom_field_items/3", "HierarchyItem"),
}


@pytest.mark.parametrize("pattern", [route.pattern for route in ROUTES.routes])
def test_every_route_of_the_table_is_reachable_and_can_go_missing(op: OpenProjectDouble, pattern: str) -> None:
    assert pattern in ROUTE_SAMPLES, f"add a sample path for the new route {pattern} to ROUTE_SAMPLES"
    path, type_name = ROUTE_SAMPLES[pattern]
    found = ROUTES.find(path)
    assert found is not None and found[0].pattern == pattern  # no earlier route shadows it
    status, body = get(op, path)
    assert (status, body["_type"]) == (200, type_name)
    op.missing_collections = (path,)
    status, body = get(op, path)
    assert status == 404 and body["message"] == f"The requested resource could not be found: {path}"


def test_route_samples_name_only_routes_of_the_table() -> None:
    assert set(ROUTE_SAMPLES) == {route.pattern for route in ROUTES.routes}
    assert len(ROUTES.routes) == len(ROUTE_SAMPLES)  # no template declared twice


def test_route_templates_capture_typed_parameters_and_reject_unknown_kinds() -> None:
    route = Route("/api/v3/things/{id:int}/{name}", lambda req: json_reply({}))
    table = RouteTable([route])
    assert table.find("/api/v3/things/12/x-y") == (route, {"id": 12, "name": "x-y"})
    assert table.find("/api/v3/things/1x/x-y") is None
    assert table.find("/api/v3/things/12") is None
    assert table.find("/api/v3/things/12/x/y") is None
    # The first route in table order wins, also when a template has a parameter where others have a literal.
    first, literal, last = (Route(pattern, lambda req: json_reply({})) for pattern in (
        "/api/v3/{kind}/x", "/api/v3/things/x", "/api/v3/{kind}/y"))
    table = RouteTable([first, literal, last])
    assert table.find("/api/v3/things/x") == (first, {"kind": "things"})
    assert table.find("/api/v3/things/y") == (last, {"kind": "things"})
    assert table.find("/api/v3/other/x") == (first, {"kind": "other"})
    assert RouteTable([literal, first]).find("/api/v3/things/x") == (literal, {})
    with pytest.raises(ValueError, match="unknown parameter kind 'uuid'"):
        Route("/api/v3/things/{id:uuid}", lambda req: json_reply({}))
    with pytest.raises(ValueError, match="cannot read the segment"):
        Route("/api/v3/things/x{id}", lambda req: json_reply({}))


def _retrospective(ident: int, project_id: int, updated: str) -> dict[str, Any]:
    return {"_type": "Retrospective", "id": ident, "name": f"Retrospective {ident}", "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": updated, "_links": {"self": {"href": f"/api/v3/retrospectives/{ident}"},
                                             "project": {"href": f"/api/v3/projects/{project_id}"}}}


def test_a_new_collection_is_one_table_entry(op: OpenProjectDouble, dataset: Dataset) -> None:
    retrospectives = {i: _retrospective(i, project_id=1 + i % 2, updated=f"2025-03-0{i}T10:00:00Z") for i in range(1, 6)}
    op.store._collections["retrospectives"] = retrospectives  # the data (the store has no public way to add a collection)
    op.routes = op.routes.with_entries(  # the one entry
        Endpoint("retrospectives", filters={"updated_at": UPDATED_AT}, sorts=generic_sorts("name"), project_link="project"))

    status, body = get(op, "/api/v3/retrospectives", {"pageSize": "2"})
    assert (status, body["_type"], body["total"], ids(body)) == (200, "Collection", 5, [5, 4])
    assert body["_links"]["nextByOffset"]["href"] == "/api/v3/retrospectives?offset=2&pageSize=2"
    since = [{"updatedAt": {"operator": "<>d", "values": ["2025-03-02T10:00:00Z", "2025-03-04T10:00:00Z"]}}]
    _, body = get(op, "/api/v3/retrospectives", {"filters": since, "sortBy": [["updatedAt", "asc"]]})
    assert ids(body) == [2, 3, 4]
    status, body = get(op, "/api/v3/retrospectives", {"filters": [{"user": {"operator": "=", "values": ["1"]}}]})
    assert status == 400 and body["message"] == "user filter does not exist."
    assert get(op, "/api/v3/retrospectives/3") == (200, retrospectives[3])
    op.login_required = False  # anonymous callers see the retrospectives of public projects only (project 1)
    assert ids(get(op, "/api/v3/retrospectives", key=None)[1]) == [4, 2]
    assert get(op, "/api/v3/retrospectives/3", key=None)[0] == 404
    op.missing_collections = ("/api/v3/retrospectives",)
    assert get(op, "/api/v3/retrospectives")[0] == get(op, "/api/v3/retrospectives/2")[0] == 404
    with OpenProjectDouble(dataset, api_key=KEY) as other:  # the entry was added to one double only
        assert get(other, "/api/v3/retrospectives")[0] == 404


def test_store_touch_delete_and_create(op: OpenProjectDouble) -> None:
    store = op.store
    before = store.work_packages[7]["lockVersion"]
    store.set_clock(datetime(2032, 2, 2, 2, 2, 2, tzinfo=UTC))
    store.touch("work_packages", 7)
    _, wp = get(op, "/api/v3/work_packages/7")
    assert wp["updatedAt"] == "2032-02-02T02:02:02Z" and wp["lockVersion"] == before + 1
    store.bulk_touch("time_entries", [1, 2, 3], datetime(2032, 2, 2, 2, 2, 3, tzinfo=UTC))
    recent = [{"updatedAt": {"operator": "<>d", "values": ["2032-01-01", ""]}}]
    assert ids(get(op, "/api/v3/time_entries", {"filters": recent})[1]) == [3, 2, 1]
    store.delete("work_packages", 8)
    assert get(op, "/api/v3/work_packages/8")[0] == 404 and 8 not in all_wp_ids(op, [])
    created = store.create_work_package(subject="Brand new", project_id=2)
    assert created["id"] == 121
    _, fetched = get(op, "/api/v3/work_packages/121")
    assert fetched["subject"] == "Brand new" and fetched["_links"]["project"]["href"] == "/api/v3/projects/2"


def test_generation_is_deterministic_and_every_collection_is_filled(dataset: Dataset) -> None:
    a, b = OpenProjectDouble(dataset).store, OpenProjectDouble(dataset).store
    assert a.work_packages[33] == b.work_packages[33] and a.time_entries == b.time_entries
    for name in ("projects", "work_packages", "activities", "relations", "time_entries", "memberships", "users",
                 "groups", "placeholder_users", "statuses", "types", "priorities", "roles", "categories", "news",
                 "documents", "meetings", "versions", "time_entry_activities", "custom_options", "attachments"):
        assert a.ids(name), name


def test_cli_prints_url_and_serves(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.openproject_double", "--port", "0", "--work-packages", "30", "--seed", "1",
         "--api-key", "cli-key", "--port-file", str(port_file)],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("openproject-double listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert port_file.read_text().strip() == url.rsplit(":", 1)[1]
        request = urllib.request.Request(url + "/api/v3/work_packages?filters=%5B%5D",
                                         headers={"Authorization": "Bearer cli-key"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["total"] == 30
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
