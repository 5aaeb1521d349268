"""Custom fields are discovered from the instance's schemas, typed in the catalog, listed in their own stream, and
never dropped: one created after discovery passes through with a warning."""

from __future__ import annotations

import logging

from tap_openproject.tap import TapOpenProject
from tests.helpers import catalog_for, config_for, run_sync


def properties(op, stream):
    catalog = TapOpenProject(config=config_for(op)).catalog_dict
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    return entry["schema"]["properties"]


def test_work_package_custom_fields_are_typed_from_the_schemas(op):
    props = properties(op, "work_packages")

    assert props["customField1"]["type"] == ["string", "null"]
    assert props["customField1"]["title"] == "Customer reference"
    assert props["customField2"]["type"] == ["integer", "null"]
    assert props["customField3"]["type"] == ["number", "null"]
    assert props["customField4"]["type"] == ["boolean", "null"]
    assert props["customField5"]["format"] == "date"
    assert props["customField6"]["type"] == ["object", "null"] and "raw" in props["customField6"]["properties"]
    assert props["customField7_id"]["type"] == ["integer", "null"]
    assert props["customField7_title"]["type"] == ["string", "null"]
    assert props["customField8_id"] == {**props["customField8_id"], "type": ["array", "null"], "items": {"type": "integer"}}
    assert props["customField8_title"]["items"] == {"type": "string"}
    assert props["customField9_id"]["title"] == "Reviewer"
    assert props["customField10_id"]["type"] == ["integer", "null"]
    assert "customField7" not in props, "linked values are flattened, never raw link objects"


def test_other_resources_custom_fields(op):
    assert properties(op, "projects")["customField12"]["title"] == "Cost center"
    assert properties(op, "time_entries")["customField11"]["type"] == ["string", "null"]


def test_custom_fields_stream_lists_every_field(op):
    result = run_sync(config_for(op), streams=["custom_fields"])

    rows = {r["id"]: r for r in result.records["custom_fields"]}
    assert sorted(rows) == list(range(1, 15))
    assert rows[8]["multi_value"] is True and rows[8]["field_format"] == "CustomOption" and rows[8]["linked"]
    assert rows[1] == {
        "id": 1,
        "key": "customField1",
        "name": "Customer reference",
        "field_format": "String",
        "multi_value": False,
        "linked": False,
        "resources": ["work_packages"],
        "resource_type": "CustomField",
    }
    assert rows[12]["resources"] == ["projects"]


def test_records_carry_typed_custom_field_values(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    by_id = {r["id"]: r for r in result.records["work_packages"]}
    for wp_id, record in by_id.items():
        element = op.store.get("work_packages", wp_id)
        assert record["customField1"] == element["customField1"]
        link = element["_links"]["customField7"]
        expected = int(link["href"].rsplit("/", 1)[1]) if link["href"] else None
        assert record["customField7_id"] == expected
        assert record["customField8_id"] == [int(x["href"].rsplit("/", 1)[1]) for x in element["_links"]["customField8"]]


def test_a_field_created_after_discovery_passes_through_with_one_warning(op, caplog):
    config = config_for(op)
    catalog = catalog_for(config, ["work_packages"])
    for wp_id in op.store.ids("work_packages")[:3]:
        op.store.update_work_package(wp_id, customField99="new value")

    import contextlib
    import io

    from tests.helpers import parse_messages  # noqa: F401 - run with the old catalog, as a scheduled job would

    out = io.StringIO()
    with caplog.at_level(logging.WARNING), contextlib.redirect_stdout(out):
        TapOpenProject(config=config, catalog=catalog).run()
    records = [m["record"] for m in parse_messages(out.getvalue()) if m["type"] == "RECORD"]

    assert sum(r.get("customField99") == "new value" for r in records) == 3
    warnings = [r.getMessage() for r in caplog.records if "catalog does not declare" in r.getMessage()]
    assert len(warnings) == 1 and "customField99" in warnings[0]
