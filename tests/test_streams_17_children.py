"""The OpenProject 17 streams of what meetings and work packages hold (meeting sections, agenda items, outcomes;
watchers, file links), the work calendar (non-working days, week days) and the items of hierarchy and weighted item
list custom fields: exact sets, children of exactly the delivered parents, a skip with one warning where the server
lacks a collection (404) or the token may not read it (403)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from tap_openproject.streams.calendar import NON_WORKING_DAYS_FROM, NON_WORKING_DAYS_TO
from tests.helpers import config_for, run_sync
from tests.openproject_double import Fault

MEETING_STREAMS = ["meetings", "meeting_sections", "meeting_agenda_items", "meeting_outcomes"]
WORK_PACKAGE_STREAMS = ["work_packages", "watchers", "file_links"]
CALENDAR_STREAMS = ["non_working_days", "week_days"]
ITEM_STREAMS = ["custom_fields", "custom_field_items"]
NEW_STREAMS = ["meeting_sections", "meeting_agenda_items", "meeting_outcomes", "watchers", "file_links",
               "non_working_days", "week_days", "custom_field_items"]
LATER = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def link_id(item, name):
    href = item["_links"][name]["href"]
    return int(href.rstrip("/").rsplit("/", 1)[1]) if href else None


def watcher_pairs(op, wp_ids):
    return sorted((wp, user["id"]) for wp in wp_ids for user in op.store.derived("watchers", wp))


def file_links_of(op, wp_ids):
    return sorted(link["id"] for wp in wp_ids for link in op.store.derived("file_links", wp))


def test_a_full_sync_delivers_exactly_the_children_of_every_delivered_parent(op):
    result = run_sync(config_for(op), streams=MEETING_STREAMS + WORK_PACKAGE_STREAMS + CALENDAR_STREAMS + ITEM_STREAMS)

    assert result.error is None
    assert not result.tap.run_context.unavailable.reasons
    for stream in ("meeting_sections", "meeting_agenda_items", "meeting_outcomes", "custom_field_items"):
        assert op.store.ids(stream), f"the dataset must hold {stream} for this test to mean anything"
        assert sorted(result.ids(stream)) == op.store.ids(stream), stream
    items = {r["id"]: r for r in result.records["meeting_agenda_items"]}
    for item_id, record in items.items():
        element = op.store.get("meeting_agenda_items", item_id)
        assert (record["meeting_id"], record["section_id"]) == (link_id(element, "meeting"), link_id(element, "section"))
        assert record["section_title"] == element["_links"]["section"]["title"]
    for record in result.records["meeting_outcomes"]:
        assert items[record["agendaItem_id"]]["meeting_id"] == record["meeting_id"]
    wp_ids = op.store.ids("work_packages")
    pairs = sorted((r["work_package_id"], r["id"]) for r in result.records["watchers"])
    assert pairs == watcher_pairs(op, wp_ids) and len(set(pairs)) > len({p[1] for p in pairs})
    assert sorted(result.ids("file_links")) == file_links_of(op, wp_ids) != []
    assert all(r["work_package_id"] == r["container_id"] for r in result.records["file_links"])
    assert [r["day"] for r in result.records["week_days"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [r["working"] for r in result.records["week_days"]] == [True] * 5 + [False] * 2
    assert sorted(r["date"] for r in result.records["non_working_days"]) == sorted(
        d["date"] for d in op.store.collection("non_working_days").values())
    assert all(r["id"] == int(r["date"].replace("-", "")) for r in result.records["non_working_days"])


def test_custom_field_items_are_read_for_hierarchy_and_weighted_item_list_fields_only(op):
    result = run_sync(config_for(op), streams=ITEM_STREAMS)

    item_paths = sorted(r.path for r in op.requests if r.path.endswith("/items"))
    assert item_paths == ["/api/v3/custom_fields/13/items", "/api/v3/custom_fields/14/items"]
    by_id = {r["id"]: r for r in result.records["custom_field_items"]}
    assert {r["custom_field_id"] for r in by_id.values()} == {13, 14}
    for item_id, record in by_id.items():
        element = op.store.get("custom_field_items", item_id)
        assert record["parent_id"] == (link_id(element, "parent") if "parent" in element["_links"] else None)
        assert record["parent_title"] == (element["_links"]["parent"]["name"] if "parent" in element["_links"] else None)
        assert record["children_ids"] == [int(c["href"].rsplit("/", 1)[1]) for c in element["_links"]["children"]]
        assert (record["label"], record["short"], record["weight"], record["depth"]) == (
            element["label"], element["short"], element["weight"], element["depth"])
    assert any(r["weight"] for r in by_id.values()) and any(r["short"] for r in by_id.values())
    assert any(r["parent_title"] for r in by_id.values())


def test_children_follow_the_project_scope(op):
    result = run_sync(config_for(op, project_ids=[1]), streams=MEETING_STREAMS + WORK_PACKAGE_STREAMS)

    meetings = {m for m, item in op.store.collection("meetings").items() if link_id(item, "project") == 1}
    assert sorted(result.ids("meetings")) == sorted(meetings)
    expected_items = sorted(i for i, item in op.store.collection("meeting_agenda_items").items()
                            if link_id(item, "meeting") in meetings)
    assert sorted(result.ids("meeting_agenda_items")) == expected_items
    wp_ids = [r["id"] for r in result.records["work_packages"]]
    assert wp_ids and len(wp_ids) < len(op.store.ids("work_packages"))
    assert sorted((r["work_package_id"], r["id"]) for r in result.records["watchers"]) == watcher_pairs(op, wp_ids)
    assert sorted(result.ids("file_links")) == file_links_of(op, wp_ids)


def test_an_incremental_run_reads_watchers_and_file_links_of_the_delivered_work_packages_only(op):
    config = config_for(op)
    first = run_sync(config, streams=WORK_PACKAGE_STREAMS)
    touched = [op.store.ids("work_packages")[4], op.store.ids("work_packages")[21]]
    for wp_id in touched:
        op.store.touch("work_packages", wp_id, at=LATER)
    op.clear_requests()

    second = run_sync(config, streams=WORK_PACKAGE_STREAMS, state=first.final_state)

    assert second.error is None
    assert sorted(second.ids("work_packages")) == sorted(touched)
    for child in ("watchers", "file_links"):
        paths = sorted(r.path for r in op.requests if r.path.endswith(f"/{child}"))
        assert paths == sorted(f"/api/v3/work_packages/{i}/{child}" for i in touched), child
    assert sorted((r["work_package_id"], r["id"]) for r in second.records.get("watchers", [])) == watcher_pairs(
        op, touched)
    assert sorted(second.ids("file_links")) == file_links_of(op, touched)


#: stream -> (the parent streams it needs, its collection as a missing-collection template, a regex of its paths)
COLLECTIONS = {
    "meeting_sections": (["meetings"], "/api/v3/meetings/{id:int}/sections", r"^/api/v3/meetings/\d+/sections$"),
    "meeting_agenda_items": (["meetings"], "/api/v3/meetings/{id:int}/agenda_items",
                             r"^/api/v3/meetings/\d+/agenda_items$"),
    "meeting_outcomes": (["meetings", "meeting_agenda_items"],
                         "/api/v3/meetings/{meeting:int}/agenda_items/{id:int}/outcomes", r"/outcomes$"),
    "watchers": (["work_packages"], "/api/v3/work_packages/{id:int}/watchers", r"^/api/v3/work_packages/\d+/watchers$"),
    "file_links": (["work_packages"], "/api/v3/work_packages/{id:int}/file_links",
                   r"^/api/v3/work_packages/\d+/file_links$"),
    "non_working_days": ([], "/api/v3/days/non_working", r"^/api/v3/days/non_working$"),
    "week_days": ([], "/api/v3/days/week", r"^/api/v3/days/week$"),
    "custom_field_items": (["custom_fields"], "/api/v3/custom_fields/{id:int}/items", r"^/api/v3/custom_fields/\d+/items$"),
}


@pytest.mark.parametrize("status", [404, 403])
@pytest.mark.parametrize("stream", NEW_STREAMS)
def test_a_collection_the_server_lacks_or_forbids_is_skipped_with_one_warning(make_double, caplog, stream, status):
    parents, template, pattern = COLLECTIONS[stream]
    op = make_double(missing_collections=(template,) if status == 404 else ())
    if status == 403:
        op.add_fault(Fault("status", path=pattern, status=403))

    result = run_sync(config_for(op), streams=[*parents, stream, "statuses"])

    assert result.error is None
    reasons = result.tap.run_context.unavailable.reasons
    assert set(reasons) == {stream} and str(status) in reasons[stream]
    assert stream not in result.records
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    for parent in parents:
        assert sorted(result.ids(parent)) == op.store.ids(parent), parent
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum(w.startswith(f"Skipping stream {stream}:") for w in warnings) == 1


def test_a_meeting_deleted_before_its_agenda_is_read_is_gone_not_a_missing_collection(op, caplog):
    gone = op.store.ids("meetings")[2]

    def delete_first(double, request):
        if request.path == f"/api/v3/meetings/{gone}/agenda_items" and gone in double.store.collection("meetings"):
            double.store.delete("meetings", gone)

    op.on_request = delete_first
    caplog.set_level(logging.INFO, logger="tap-openproject")
    result = run_sync(config_for(op, max_concurrency=1), streams=["meetings", "meeting_agenda_items"])

    assert result.error is None and not result.tap.run_context.unavailable.reasons
    expected = sorted(i for i, item in op.store.collection("meeting_agenda_items").items()
                      if link_id(item, "meeting") != gone)
    assert sorted(result.ids("meeting_agenda_items")) == expected
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "meeting_agenda_items" in r.getMessage()]
    assert any("is gone" in r.getMessage() and "meeting_agenda_items" in r.getMessage() for r in caplog.records)


def test_non_working_days_are_asked_for_the_documented_window_not_the_current_year(op):
    op.store.set_clock(dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))  # the server's default: 2025 only

    result = run_sync(config_for(op), streams=["non_working_days"])

    requests = [r for r in op.requests if r.path == "/api/v3/days/non_working"]
    assert len(requests) == 1
    assert json.loads(requests[0].query["filters"]) == [
        {"date": {"operator": "<>d", "values": [NON_WORKING_DAYS_FROM, NON_WORKING_DAYS_TO]}}]
    dates = sorted(r["date"] for r in result.records["non_working_days"])
    assert dates == sorted(d["date"] for d in op.store.collection("non_working_days").values())
    assert dates[0] < "2025" and dates[-1] > "2026", "holidays before and after the server's default year"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"{NON_WORKING_DAYS_FROM} through {NON_WORKING_DAYS_TO}" in readme
