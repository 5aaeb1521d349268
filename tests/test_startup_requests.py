"""Start-up cost: a sync with a catalog makes a bounded number of requests before its first stream request, however
many projects the instance has; custom-field columns come from the catalog, discovery's job."""

from __future__ import annotations

import contextlib
import io

import pytest

from tap_openproject.tap import TapOpenProject
from tests.helpers import FakeClock, catalog_for, config_for, parse_messages
from tests.openproject_double import OpenProjectDouble


@pytest.fixture
def make_instance(make_double):
    return lambda projects: make_double(work_packages=40, seed=1, projects=projects)


def sync_with_catalog(op: OpenProjectDouble, catalog: dict) -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tap = TapOpenProject(config=config_for(op), catalog=catalog, clock=FakeClock())
        tap.run()
    return parse_messages(out.getvalue())


def paths_before(op: OpenProjectDouble, first_stream_path: str) -> list[str]:
    paths = [r.path for r in op.requests]
    return paths[: paths.index(first_stream_path)]


@pytest.mark.parametrize("projects", [3, 40])
def test_a_sync_with_a_catalog_only_probes_the_credentials_before_its_first_stream_request(make_instance, projects):
    op = make_instance(projects)
    catalog = catalog_for(config_for(op), ["statuses"])  # discovery: reads every project's types and schemas
    assert sum(r.path.endswith("/types") for r in op.requests) == projects  # (so the count below can fail)
    op.clear_requests()

    messages = sync_with_catalog(op, catalog)

    assert paths_before(op, "/api/v3/statuses") == ["/api/v3/users/me"]
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"statuses"}


def test_custom_field_columns_come_from_the_catalog(make_instance):
    op = make_instance(3)
    catalog = catalog_for(config_for(op), ["work_packages"])
    op.clear_requests()

    messages = sync_with_catalog(op, catalog)

    assert paths_before(op, "/api/v3/work_packages") == ["/api/v3/users/me"]
    assert not any("schema" in r.path or r.path.endswith("/types") for r in op.requests)
    schema = next(m["schema"] for m in messages if m["type"] == "SCHEMA" and m["stream"] == "work_packages")
    assert schema["properties"]["customField1"]["title"] == "Customer reference"  # typed, from the catalog
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    by_id = {r["id"]: r for r in records}
    assert set(by_id) == set(op.store.ids("work_packages"))
    for ident in op.store.ids("work_packages"):
        element = op.store.get("work_packages", ident)
        assert by_id[ident]["customField1"] == element.get("customField1")


def test_a_custom_field_deselected_in_the_catalog_never_leaves_the_tap(make_instance):
    op = make_instance(3)
    catalog = catalog_for(config_for(op), ["work_packages"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "work_packages")
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] == ["properties", "customField1"]:
            metadata["metadata"]["selected"] = False

    messages = sync_with_catalog(op, catalog)

    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert len(records) == len(op.store.ids("work_packages"))
    assert not any("customField1" in r for r in records)
    assert any("customField2" in r for r in records)


def test_the_custom_fields_stream_still_discovers_when_selected(make_instance):
    op = make_instance(3)
    catalog = catalog_for(config_for(op), ["custom_fields"])
    op.clear_requests()

    messages = sync_with_catalog(op, catalog)

    keys = {m["record"]["key"] for m in messages if m["type"] == "RECORD"}
    assert {"customField1", "customField12"} <= keys
    assert sum(r.path.endswith("/types") for r in op.requests) == 3
