"""A full sync delivers every record of every stream, exactly once, with the request shapes the API needs."""

from __future__ import annotations

import json
import math
from collections import Counter

from tap_openproject.streams import STREAMS_BY_NAME
from tests.helpers import all_of, config_for, run_sync

ALL_STREAMS = ["projects", "categories", "work_packages", "activities", "attachments", "relations", "time_entries",
               "memberships", "versions", "news", "documents", "meetings", "users", "groups", "placeholder_users",
               "principals", "statuses", "types", "priorities", "roles", "sprints", "project_phase_definitions",
               "labels", "budgets", "storages", "project_storages", "views", "queries", "help_texts",
               "time_entry_activities", "meeting_sections", "meeting_agenda_items", "meeting_outcomes", "watchers",
               "file_links", "non_working_days", "week_days", "custom_field_items"]


def test_full_sync_delivers_exact_id_sets_for_every_stream(op):
    result = run_sync(config_for(op))

    assert result.error is None
    assert {r.method for r in op.requests} == {"GET"}, "the tap only reads"
    for stream in ALL_STREAMS:
        if stream == "principals":
            expected = sorted(op.store.ids("users") + op.store.ids("groups") + op.store.ids("placeholder_users"))
        else:
            expected = op.store.ids(stream)
        assert sorted(result.ids(stream)) == expected, stream
    assert not result.tap.run_context.unavailable.reasons


def test_closed_work_packages_are_included(op):
    closed_status_ids = {s["id"] for s in all_of(op, "statuses") if s["isClosed"]}

    result = run_sync(config_for(op), streams=["work_packages"])

    delivered_closed = [r for r in result.records["work_packages"] if r["status_id"] in closed_status_ids]
    assert delivered_closed, "the dataset must hold closed work packages for this test to mean anything"
    assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")


def test_no_duplicate_primary_keys_within_a_full_sync(op):
    result = run_sync(config_for(op))

    for stream, records in result.records.items():
        keys = STREAMS_BY_NAME[stream].primary_keys  # watchers: (work_package_id, id), a user watches many
        duplicates = [key for key, n in Counter(tuple(r[k] for k in keys) for r in records).items() if n > 1]
        assert duplicates == [], stream


def test_work_package_requests_always_send_filters_and_never_filter(op):
    run_sync(config_for(op), streams=["work_packages", "projects", "time_entries", "memberships", "news"])

    work_package_requests = [r for r in op.requests if r.path == "/api/v3/work_packages"]
    assert work_package_requests
    assert all("filters" in r.query for r in work_package_requests)
    assert all("filter" not in r.query for r in op.requests)


def test_page_size_and_page_number_offsets_with_no_extra_empty_request(op):
    result = run_sync(config_for(op, page_size=7, max_concurrency=1), streams=["relations"])

    relation_requests = [r for r in op.requests if r.path == "/api/v3/relations"]
    total = len(op.store.ids("relations"))
    assert len(relation_requests) == math.ceil(total / 7)
    assert [int(r.query["offset"]) for r in relation_requests] == list(range(1, len(relation_requests) + 1))
    assert {r.query["pageSize"] for r in relation_requests} == {"7"}
    assert sorted(result.ids("relations")) == op.store.ids("relations")


def test_server_page_size_cap_is_read_back(make_double):
    op = make_double(work_packages=260, max_page_size=50)

    result = run_sync(config_for(op, page_size=1000, max_concurrency=1), streams=["work_packages"])

    requests = [r for r in op.requests if r.path == "/api/v3/work_packages"]
    assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")
    # keyset paging: each page restarts at the last delivered second, so one page more at most than offsets
    assert math.ceil(260 / 50) <= len(requests) <= math.ceil(260 / 50) + 1


def test_unpaginated_collections_take_one_request(op):
    run_sync(config_for(op), streams=["statuses", "types", "priorities", "roles", "versions"])

    paths = {f"/api/v3/{name}" for name in ("statuses", "types", "priorities", "roles", "versions")}
    counts = Counter(r.path for r in op.requests if r.path in paths)
    assert counts == {path: 1 for path in paths}


def test_records_flatten_links_and_drop_action_links(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    element = op.store.get("work_packages", result.ids("work_packages")[0])
    record = result.records["work_packages"][0]
    assert record["project_id"] == int(element["_links"]["project"]["href"].rsplit("/", 1)[1])
    assert record["project_title"] == element["_links"]["project"]["title"]
    assert record["status_id"] == int(element["_links"]["status"]["href"].rsplit("/", 1)[1])
    assert isinstance(record["ancestors_ids"], list)
    actions = {"update", "delete", "logTime", "move", "addComment", "addWatcher", "_links", "_embedded"}
    assert not {key.split("_")[0] if key.endswith(("_id", "_title")) else key for key in record} & actions
    assert record["resource_type"] == "WorkPackage"


def test_undisclosed_and_unset_links_become_null(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    by_id = {r["id"]: r for r in result.records["work_packages"]}
    undisclosed = [
        wp["id"]
        for wp in all_of(op, "work_packages")
        if wp["_links"]["responsible"]["href"] == "urn:openproject-org:api:v3:undisclosed"
    ]
    unset = [wp["id"] for wp in all_of(op, "work_packages") if wp["_links"]["assignee"]["href"] is None]
    assert undisclosed and unset, "the dataset must hold both kinds"
    assert all(by_id[i]["responsible_id"] is None and by_id[i]["responsible_title"] is None for i in undisclosed)
    assert all(by_id[i]["assignee_id"] is None for i in unset)


def test_custom_fields_reach_the_target(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    records = result.records["work_packages"]
    keys = set().union(*(r.keys() for r in records))
    assert {"customField1", "customField2", "customField3", "customField4", "customField5", "customField6"} <= keys
    assert {"customField7_id", "customField7_title", "customField8_id", "customField9_id", "customField10_id"} <= keys
    multi = [r["customField8_id"] for r in records if r.get("customField8_id")]
    assert multi and all(isinstance(v, list) and all(isinstance(i, int) for i in v) for v in multi)


def test_timestamps_are_canonical_utc(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    for record in result.records["work_packages"]:
        assert len(record["updatedAt"]) == len("2024-03-01T10:00:00.000Z")
        assert record["updatedAt"].endswith("Z")


def test_schema_messages_declare_every_emitted_column(op):
    result = run_sync(config_for(op), streams=["projects", "relations", "memberships"])

    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    for stream in ("relations", "memberships"):
        declared = set(schemas[stream]["properties"])
        for record in result.records[stream]:
            assert set(record) <= declared, stream
    assert json.dumps(schemas["memberships"]["properties"]["roles_ids"]["items"]) == '{"type": "integer"}'
