"""The example payloads of OpenProject's own API spec (tests/fixtures/spec/) lose nothing: for every stream of the
tap, every property and every resource link of each element lands in a typed column or in `unmapped_properties`,
and the record validates against the stream's schema with format checking.

Each element goes the way the stream's records go: the stream's record shape, then what the reader adds (a
budget's project) and the stream's `post_process` (a child's parent columns, a calendar day's id)."""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from tap_openproject.custom_fields import CustomFieldCatalog, fields_of
from tap_openproject.hal import UNMAPPED, link_id
from tap_openproject.paging.per_project import EveryProject
from tap_openproject.streams import STREAM_TYPES, STREAMS_BY_NAME
from tap_openproject.streams.meetings import MeetingSectionsStream
from tap_openproject.timeutil import datetime_value

SPEC = Path(__file__).parent / "fixtures" / "spec"
#: (fixture, stream whose code path it goes through); custom_fields has its own test (rows from a schema).
CASES = [
    ("user.json", "users"),
    ("user.json", "principals"),
    ("user.json", "watchers"),
    ("group.json", "groups"),
    ("group.json", "principals"),
    ("placeholder_user.json", "placeholder_users"),
    ("placeholder_user.json", "principals"),
    ("type.json", "types"),
    ("attachment.json", "attachments"),
    ("work_package.json", "work_packages"),
    ("work_package_17.json", "work_packages"),
    ("project.json", "projects"),
    ("program.json", "projects"),
    ("portfolio.json", "projects"),
    ("category.json", "categories"),
    ("activity.json", "activities"),
    ("activity_comment.json", "activities"),
    ("relation_duplicated.json", "relations"),
    ("relation_precedes.json", "relations"),
    ("time_entry.json", "time_entries"),
    ("membership.json", "memberships"),
    ("version.json", "versions"),
    ("news.json", "news"),
    ("document.json", "documents"),
    ("meeting.json", "meetings"),
    ("status.json", "statuses"),
    ("priority.json", "priorities"),
    ("role.json", "roles"),
    ("sprint.json", "sprints"),
    ("project_phase_definition.json", "project_phase_definitions"),
    ("label.json", "labels"),
    ("budget.json", "budgets"),
    ("storage_nextcloud.json", "storages"),
    ("storage_one_drive.json", "storages"),
    ("storage_nextcloud_unauthorized.json", "storages"),
    ("project_storage.json", "project_storages"),
    ("view_work_packages_table.json", "views"),
    ("view_team_planner.json", "views"),
    ("query.json", "queries"),
    ("help_text.json", "help_texts"),
    ("time_entry_activity.json", "time_entry_activities"),
    ("meeting_section.json", "meeting_sections"),
    ("meeting_agenda_item.json", "meeting_agenda_items"),
    ("meeting_outcome.json", "meeting_outcomes"),
    ("file_link.json", "file_links"),
    ("non_working_day.json", "non_working_days"),
    ("week_day.json", "week_days"),
    ("custom_field_item_root.json", "custom_field_items"),
    ("custom_field_item.json", "custom_field_items"),
]
#: The context a parent hands its child streams (for budgets: the project whose route the reader read), with the
#: parents' ids of the spec's own examples where they name one.
CONTEXTS: dict[str, dict[str, int]] = {
    "categories": {"project_id": 11},
    "activities": {"work_package_id": 207},
    "attachments": {"work_package_id": 1528},
    "watchers": {"work_package_id": 1528},
    "file_links": {"work_package_id": 17},
    "meeting_sections": {"meeting_id": 1},
    "meeting_agenda_items": {"meeting_id": 1},
    "meeting_outcomes": {"meeting_id": 1, "agenda_item_id": 5},
    "custom_field_items": {"custom_field_id": 42},
    "budgets": {"project_id": 11},
}
#: The columns each child stream's records get from their parent (the element itself does not name it).
PARENT_COLUMNS = {
    "watchers": ("work_package_id",),
    "file_links": ("work_package_id",),
    "meeting_outcomes": ("meeting_id",),
    "custom_field_items": ("custom_field_id",),
    "budgets": ("project_id",),
}
#: Links of these payloads that are not values of the element, classified here by hand from the spec's
#: descriptions (actions, web pages, file downloads, schemas, collections), to check the tap's rule against.
NOT_DATA = {
    "self", "schema", "memberships", "showUser", "updateImmediately", "update", "lock", "delete", "logTime", "move",
    "attachments", "addAttachment", "customActions", "relations", "revisions", "availableWatchers", "watch",
    "addWatcher", "removeWatcher", "addRelation", "changeParent", "addComment", "timeEntries", "watchers",
    "staticDownloadLocation", "downloadLocation", "createWorkPackage", "createWorkPackageImmediate", "categories",
    "types", "versions", "workPackages",
    # versions: the projects a version is available in (a collection)
    "availableInProjects",
    # storages: file uploads (POST), the storage's web page, its project storages (a filtered collection), the
    # storage's OAuth authorization page
    "prepareUpload", "open", "projectStorages", "authorize",
    # queries: the work packages a query selects (a filtered collection)
    "results",
    # help texts: the admin page that edits one
    "editText",
    # file links: the file on its storage, the tap's redirects to it and to a download
    "originOpen", "staticOriginOpen", "originOpenLocation", "staticOriginOpenLocation", "staticOriginDownload",
    # hierarchy items: the item's branch (a collection)
    "branch",
}  # fmt: skip


def element(fixture: str) -> dict[str, t.Any]:
    """The spec's element, without the fixture's own `_source` / `_note` keys."""
    data = json.loads((SPEC / fixture).read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in ("_source", "_note")}


def format_checker() -> jsonschema.FormatChecker:
    """jsonschema's checker, plus date-time (it checks that only with an optional package installed)."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value and parsed.tzinfo is not None

    return checker


def bare_stream(stream: str) -> t.Any:
    """The stream without a tap: enough of a run for `post_process` (no project scoping, nothing to warn)."""
    cls = STREAMS_BY_NAME[stream]
    instance = object.__new__(cls)
    instance.run = SimpleNamespace(settings=SimpleNamespace(project_ids=()))
    instance._catalog_columns = SimpleNamespace(observe=lambda row: None)
    if isinstance(instance, MeetingSectionsStream):
        instance._delivered = set()
    return instance


def flat(fixture: str, stream: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """(the spec's element, the record the stream delivers for it)."""
    cls = STREAMS_BY_NAME[stream]
    context = CONTEXTS.get(stream)
    row = cls.shape.flatten(element(fixture))
    if isinstance(cls.reader, EveryProject):  # the reader writes the project whose route it read
        row = {**row, cls.reader.project_column: (context or {})["project_id"]}
    record = bare_stream(stream).post_process(row, context)
    assert record is not None, f"{stream}: {fixture} is filtered out"
    return element(fixture), record


def link_title(stream: str, link: dict[str, t.Any]) -> str | None:
    """The title a link's column should hold (hierarchy item links carry the label as `name`)."""
    if link.get("href") is None:
        return None
    return link.get("title") or (link.get("name") if stream == "custom_field_items" else None)


@pytest.mark.parametrize(("fixture", "stream"), CASES)
def test_every_property_lands_in_a_typed_column_or_unmapped_properties(fixture, stream):
    source, record = flat(fixture, stream)
    shape = STREAMS_BY_NAME[stream].shape
    unmapped = record[UNMAPPED] or {}
    aliases = {other: name for name, others in shape.aliases.items() for other in others}

    for key, value in source.items():
        if key in ("_type", "_links", "_embedded"):
            continue
        column = aliases.get(key, key)
        expected = datetime_value(value) if column in shape.datetime_properties else value
        if column in record and column != UNMAPPED:
            assert record[column] == expected, f"{stream}: {key}"
            assert key not in unmapped, f"{stream}: {key} is typed and in unmapped_properties"
        else:
            assert unmapped.get(key) == value, f"{stream}: {key} is dropped"
    assert record["resource_type"] == source["_type"]


@pytest.mark.parametrize(("fixture", "stream"), CASES)
def test_every_resource_link_lands_and_no_action_or_collection_does(fixture, stream):
    source, record = flat(fixture, stream)
    shape = STREAMS_BY_NAME[stream].shape
    unmapped_links = (record[UNMAPPED] or {}).get("_links", {})
    string_lists = getattr(shape, "string_multi_links", ())
    hrefs = getattr(shape, "href_links", ())

    for name, link in source["_links"].items():
        if name in NOT_DATA:
            assert name not in unmapped_links, f"{stream}: {name} is not data"
            assert not {f"{name}_id", f"{name}_ids", f"{name}_title", f"{name}_href"} & record.keys(), name
        elif name in hrefs:
            assert record[f"{name}_href"] == link["href"], f"{stream}: {name}"
        elif isinstance(link, list):
            as_string = name in string_lists
            expected = [link_id(item["href"], as_string=as_string) for item in link]
            typed = record.get(f"{name}_ids", record.get(f"{name}_id"))
            if typed is not None:
                assert typed == expected, f"{stream}: {name}"
            else:
                assert unmapped_links[name] == [{"href": i["href"], "title": i.get("title")} for i in link], name
        elif f"{name}_id" in record:
            assert record[f"{name}_id"] == link_id(link["href"], as_string=name in shape.string_id_links), name
            assert record[f"{name}_title"] == link_title(stream, link), f"{stream}: {name}"
        else:
            assert unmapped_links[name] == {"href": link["href"], "title": link.get("title")}, f"{stream}: {name}"


@pytest.mark.parametrize(("fixture", "stream"), CASES)
def test_records_validate_against_the_stream_schema_with_formats(fixture, stream):
    _, record = flat(fixture, stream)
    schema = STREAMS_BY_NAME[stream].shape.json_schema()

    jsonschema.validate(record, schema, format_checker=format_checker())


def test_the_spec_payloads_need_no_catch_all_now():
    """Everything these payloads hold is declared (the catch-all is for what a newer release adds)."""
    leftovers = {(f, s): flat(f, s)[1][UNMAPPED] for f, s in CASES}

    assert leftovers == dict.fromkeys(leftovers)


def test_every_stream_has_a_spec_payload():
    covered = {stream for _, stream in CASES} | {"custom_fields"}

    assert covered == {s.name for s in STREAM_TYPES}


@pytest.mark.parametrize("stream", sorted(PARENT_COLUMNS))
def test_child_records_carry_their_parents_ids_in_declared_columns(stream):
    fixture = next(f for f, s in CASES if s == stream)
    _, record = flat(fixture, stream)
    declared = STREAMS_BY_NAME[stream].shape.json_schema()["properties"]

    for column in PARENT_COLUMNS[stream]:
        assert record[column] == CONTEXTS[stream][column]
        assert declared[column]["type"] == ["integer", "null"]


def test_the_calendar_records_get_their_ids():
    assert flat("non_working_day.json", "non_working_days")[1]["id"] == 20221225
    assert flat("week_day.json", "week_days")[1]["id"] == 5


def custom_field_rows() -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    """(the spec's work package schema, the custom_fields stream's rows for it, as its get_records yields them)."""
    schema = element("work_package_schema.json")
    stream = bare_stream("custom_fields")
    stream.run.custom_fields = CustomFieldCatalog({"work_packages": {f.id: f for f in fields_of(schema)}})
    return schema, list(STREAMS_BY_NAME["custom_fields"].get_records(stream, None))


def test_every_custom_field_of_a_work_package_schema_is_a_row():
    schema, rows = custom_field_rows()

    assert [row["key"] for row in rows] == sorted(k for k in schema if k.startswith("customField"))
    for row in rows:
        entry = schema[row["key"]]
        assert row["id"] == int(row["key"].removeprefix("customField"))
        assert (row["name"], row["field_format"]) == (entry["name"], entry["type"])
        assert row["linked"] is (entry.get("location") == "_links")
        assert (row["multi_value"], row["resources"], row["resource_type"]) == (False, ["work_packages"], "CustomField")


def test_custom_field_rows_validate_against_the_stream_schema_with_formats():
    _, rows = custom_field_rows()
    schema = STREAMS_BY_NAME["custom_fields"].shape.json_schema()

    for row in rows:
        jsonschema.validate(row, schema, format_checker=format_checker())


def test_what_the_spec_adds_reaches_its_columns():
    _, user = flat("user.json", "principals")
    _, group = flat("group.json", "principals")
    _, wp = flat("work_package_17.json", "work_packages")
    _, attachment = flat("attachment.json", "attachments")
    _, type_ = flat("type.json", "types")
    _, program = flat("program.json", "projects")

    assert (user["firstName"], user["lastName"], user["admin"], user["language"]) == ("Mara", "Jade", False, "en")
    assert user["avatar"].startswith("https://secure.gravatar.com/avatar/")
    assert group["members_ids"] == [23, 14, 3]
    assert (wp["sprint_id"], wp["sprint_title"]) == (3, "Sprint 11")
    assert (wp["projectPhase_id"], wp["projectPhaseDefinition_id"]) == (23, 23)
    assert attachment["fileSize"] == 24
    assert type_["ownName"] == "Bug"
    assert program["resource_type"] == "Program"
    assert (program["parent_id"], program["ancestors_ids"]) == (123, [2, 12, 123])
    assert (program["customField123"], program["customComment123"]) == (123, "Why is the value 123?")


def test_what_the_spec_documents_for_the_other_streams_reaches_its_columns():
    """The declarations these payloads called for: each value in its own typed column."""
    _, watcher = flat("user.json", "watchers")
    _, status = flat("status.json", "statuses")
    _, storage = flat("storage_nextcloud.json", "storages")
    _, project_storage = flat("project_storage.json", "project_storages")
    _, view = flat("view_work_packages_table.json", "views")
    _, query = flat("query.json", "queries")
    _, file_link = flat("file_link.json", "file_links")
    _, item = flat("custom_field_item.json", "custom_field_items")

    assert (watcher["email"], watcher["admin"], watcher["createdAt"]) == ("m.jade@empire.org", False,
                                                                         "2022-04-04T08:07:22.910Z")
    assert status["category"] == "to_do"
    assert (storage["oauthApplication_id"], storage["oauthClientCredentials_id"]) == (42, 42)
    assert project_storage["projectFolder_href"] == "/api/v3/storages/81/files/30"
    assert view["timelineVisible"] is True
    assert view["columns_ids"] == ["id", "subject", "type", "status", "priority", "assignee", "updated_at"]
    assert [p["_type"] for p in query["projections"]] == [
        "QueryProjection::Table", "QueryProjection::Gantt", "QueryProjection::TeamPlanner", "QueryProjection::Calendar",
    ]  # fmt: skip
    assert query["sortBy_ids"] == ["parent-desc"]
    assert file_link["status_id"] == "urn:openproject-org:api:v3:file-links:permission:View"
    assert (item["parent_id"], item["parent_title"], item["children_ids"]) == (1337, "Imperial Troopers", [1340, 1341])
