"""Nothing is dropped silently: what the API sends and the tap does not declare reaches `unmapped_properties` (with
one warning per stream), and the catalog decides what leaves the tap (deselected or removed columns never do)."""

from __future__ import annotations

import contextlib
import io
import logging
import typing as t

from tap_openproject.tap import TapOpenProject
from tests.helpers import FakeClock, catalog_for, config_for, parse_messages, run_sync

WARNING = "the API sent keys the tap does not declare"


def run_with_catalog(config: dict[str, t.Any], catalog: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """A run with a hand-edited catalog (as a Meltano user's, or a saved one): its Singer messages."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapOpenProject(config=config, catalog=catalog, clock=FakeClock()).run()
    return parse_messages(out.getvalue())


def records(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def entry(catalog: dict[str, t.Any], stream: str) -> dict[str, t.Any]:
    return next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)


def add_news_from_a_newer_release(op: t.Any, wp_ids: list[int]) -> None:
    """Work packages as a newer OpenProject might send them: a property and a link the tap does not know, plus an
    action and a collection link (which are not data)."""
    for wp_id in wp_ids:
        op.store.update_work_package(
            wp_id,
            riskScore=7,
            checklist={"done": 2, "total": 3},
            _links={
                "iteration": {"href": "/api/v3/iterations/4", "title": "Iteration 4"},
                "archive": {"href": f"/api/v3/work_packages/{wp_id}/archive", "method": "post"},
                "comments": {"href": f"/api/v3/work_packages/{wp_id}/comments"},
            },
        )


def test_an_undeclared_property_and_link_land_in_unmapped_properties(op, caplog):
    changed = op.store.ids("work_packages")[:3]
    add_news_from_a_newer_release(op, changed)

    with caplog.at_level(logging.WARNING):
        result = run_sync(config_for(op), streams=["work_packages", "types"])

    by_id = {r["id"]: r for r in result.records["work_packages"]}
    for wp_id in changed:
        assert by_id[wp_id]["unmapped_properties"] == {
            "_links": {"iteration": {"href": "/api/v3/iterations/4", "title": "Iteration 4"}},
            "checklist": {"done": 2, "total": 3},
            "riskScore": 7,
        }
    assert all(r["unmapped_properties"] is None for i, r in by_id.items() if i not in changed)
    warnings = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert warnings == [
        "work_packages: the API sent keys the tap does not declare (_links.iteration, checklist, riskScore): "
        "they are in unmapped_properties"
    ]
    schema = next(m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == "work_packages")
    assert schema["properties"]["unmapped_properties"]["type"] == ["object", "null"]


def test_the_17x_links_and_type_names_reach_their_columns(op):
    result = run_sync(config_for(op), streams=["work_packages", "types"])

    for record in result.records["work_packages"]:
        wp_id = record["id"]
        assert record["sprint_id"] == (1 + wp_id % 3 if wp_id % 5 == 0 else None)
        assert record["projectPhaseDefinition_id"] == (2 if wp_id % 7 == 0 else None)
        assert record["unmapped_properties"] is None
    assert {r["ownName"] for r in result.records["types"]} == {"Task", "Milestone", "Bug", "Feature"}


def test_workspace_links_resolve_to_their_id_whatever_the_route(op):
    first, second, third = op.store.ids("work_packages")[:3]
    op.store.update_work_package(first, _links={"project": {"href": "/api/v3/programs/3", "title": "A program"}})
    op.store.update_work_package(second, _links={"project": {"href": "/api/v3/workspaces/4", "title": "A space"}})
    op.store.update_work_package(third, _links={"project": {"href": "/api/v3/portfolios/2", "title": "A portfolio"}})

    result = run_sync(config_for(op), streams=["work_packages"])

    by_id = {r["id"]: r for r in result.records["work_packages"]}
    assert [by_id[i]["project_id"] for i in (first, second, third)] == [3, 4, 2]
    assert by_id[first]["project_title"] == "A program"


def test_projects_deliver_programs_and_portfolios_with_their_type(op):
    program, portfolio = op.store.projects[3], op.store.projects[4]
    program.update(_type="Program")
    program["_links"]["self"] = {"href": "/api/v3/programs/3", "title": program["name"]}
    portfolio.update(_type="Portfolio")
    portfolio["_links"]["self"] = {"href": "/api/v3/portfolios/4", "title": portfolio["name"]}
    op.store.projects[2]["_links"]["parent"] = {"href": "/api/v3/portfolios/4", "title": portfolio["name"]}

    result = run_sync(config_for(op), streams=["projects"])

    by_id = {r["id"]: r for r in result.records["projects"]}
    assert sorted(by_id) == op.store.ids("projects")
    assert {i: r["resource_type"] for i, r in by_id.items()} == {1: "Project", 2: "Project", 3: "Program", 4: "Portfolio"}
    assert by_id[2]["parent_id"] == 4


def test_deselecting_unmapped_properties_keeps_it_in_the_tap(op, caplog):
    add_news_from_a_newer_release(op, op.store.ids("work_packages")[:2])
    config = config_for(op)
    catalog = catalog_for(config, ["work_packages"])
    for metadata in entry(catalog, "work_packages")["metadata"]:
        if metadata["breadcrumb"] in (["properties", "unmapped_properties"], ["properties", "description"]):
            metadata["metadata"]["selected"] = False

    with caplog.at_level(logging.WARNING):
        delivered = records(run_with_catalog(config, catalog), "work_packages")

    assert sorted(r["id"] for r in delivered) == op.store.ids("work_packages")
    assert not any({"unmapped_properties", "description"} & r.keys() for r in delivered)
    assert all("subject" in r and "sprint_id" in r for r in delivered)
    warnings = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].endswith("unmapped_properties is deselected or not in the catalog, so they are not sent")


def test_a_column_removed_from_the_catalog_schema_is_not_sent(op, caplog):
    config = config_for(op)
    catalog = catalog_for(config, ["work_packages"])
    schema = entry(catalog, "work_packages")["schema"]
    del schema["properties"]["subject"]
    del schema["properties"]["sprint_id"]

    with caplog.at_level(logging.WARNING):
        messages = run_with_catalog(config, catalog)

    delivered = records(messages, "work_packages")
    assert sorted(r["id"] for r in delivered) == op.store.ids("work_packages")
    assert not any({"subject", "sprint_id"} & r.keys() for r in delivered)
    assert all("description" in r and "sprint_title" in r for r in delivered)
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["work_packages"]["replication_key_value"], "bookmarks still advance"
    warnings = [r.getMessage() for r in caplog.records if "leaves out columns" in r.getMessage()]
    assert warnings == [
        "work_packages: the catalog's schema leaves out columns the tap delivers (sprint_id, subject): they are not "
        "sent. To exclude a column, deselect it in the catalog's metadata; to receive it, run --discover again"
    ]


def test_a_catalog_that_allows_no_other_columns_gets_new_custom_fields_in_unmapped_properties(op):
    config = config_for(op)
    catalog = catalog_for(config, ["work_packages"])
    entry(catalog, "work_packages")["schema"]["additionalProperties"] = False
    changed = op.store.ids("work_packages")[0]
    op.store.update_work_package(changed, customField99="new value")

    delivered = {r["id"]: r for r in records(run_with_catalog(config, catalog), "work_packages")}

    assert "customField99" not in delivered[changed]
    assert delivered[changed]["unmapped_properties"] == {"customField99": "new value"}


def test_custom_field_comments_sit_next_to_their_field(op):
    props = entry(TapOpenProject(config=config_for(op)).catalog_dict, "projects")["schema"]["properties"]
    result = run_sync(config_for(op), streams=["projects"])

    assert list(props).index("customComment12") == list(props).index("customField12") + 1
    assert props["customComment12"]["type"] == ["string", "null"]
    comments = {r["id"]: r["customComment12"] for r in result.records["projects"]}
    assert comments == {1: "Agreed with finance", 2: None, 3: "Agreed with finance", 4: None}
    assert all(r["unmapped_properties"] is None for r in result.records["projects"])
