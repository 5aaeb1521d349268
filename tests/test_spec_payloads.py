"""The example payloads of OpenProject's own API spec (tests/fixtures/spec/) lose nothing: every property and every
resource link of each element lands in a typed column or in `unmapped_properties`, and the record validates
against the stream's schema with format checking."""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from pathlib import Path

import jsonschema
import pytest

from tap_openproject.hal import UNMAPPED, link_id
from tap_openproject.streams import STREAMS_BY_NAME
from tap_openproject.timeutil import datetime_value

SPEC = Path(__file__).parent / "fixtures" / "spec"
#: (fixture, stream whose shape it goes through)
CASES = [
    ("user.json", "users"),
    ("user.json", "principals"),
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
]
#: Links of these payloads that are not values of the element, classified here by hand from the spec's
#: descriptions (actions, web pages, file downloads, schemas, collections), to check the tap's rule against.
NOT_DATA = {
    "self", "schema", "memberships", "showUser", "updateImmediately", "update", "lock", "delete", "logTime", "move",
    "attachments", "addAttachment", "customActions", "relations", "revisions", "availableWatchers", "watch",
    "addWatcher", "removeWatcher", "addRelation", "changeParent", "addComment", "timeEntries", "watchers",
    "staticDownloadLocation", "downloadLocation", "createWorkPackage", "createWorkPackageImmediate", "categories",
    "types", "versions", "workPackages",
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


def flat(fixture: str, stream: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    return element(fixture), STREAMS_BY_NAME[stream].shape.flatten(element(fixture))


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
        if column in record and column != UNMAPPED:
            assert record[column] == datetime_value(value), f"{stream}: {key}"
            assert key not in unmapped, f"{stream}: {key} is typed and in unmapped_properties"
        else:
            assert unmapped.get(key) == value, f"{stream}: {key} is dropped"
    assert record["resource_type"] == source["_type"]


@pytest.mark.parametrize(("fixture", "stream"), CASES)
def test_every_resource_link_lands_and_no_action_or_collection_does(fixture, stream):
    source, record = flat(fixture, stream)
    unmapped_links = (record[UNMAPPED] or {}).get("_links", {})

    for name, link in source["_links"].items():
        if name in NOT_DATA:
            assert name not in unmapped_links, f"{stream}: {name} is not data"
            assert not {f"{name}_id", f"{name}_ids", f"{name}_title"} & record.keys(), name
        elif isinstance(link, list):
            expected = [link_id(item["href"]) for item in link]
            typed = record.get(f"{name}_ids", record.get(f"{name}_id"))
            if typed is not None:
                assert typed == expected, f"{stream}: {name}"
            else:
                assert unmapped_links[name] == [{"href": i["href"], "title": i.get("title")} for i in link], name
        elif f"{name}_id" in record:
            assert record[f"{name}_id"] == link_id(link["href"], as_string=name == "status" and stream == "projects")
            assert record[f"{name}_title"] == link.get("title"), f"{stream}: {name}"
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
