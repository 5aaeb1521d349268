"""Deletions: work packages that vanish are reported once, never falsely; full-table streams use ACTIVATE_VERSION.

With `detect_deletions`, a work_packages run ends with an id sweep and reports each work package that vanished
since the previous run as `{"id": N, "_sdc_deleted_at": ...}` (see tap_openproject/deletions.py).
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from tap_openproject.deletions import decode_ids
from tap_openproject.timeutil import parse_datetime
from tests.helpers import config_for, run_cli, run_sync, write_config

WP_PATH = "/api/v3/work_packages"


def sweep_requests(op: t.Any) -> list[t.Any]:
    """Requests of the deletion sweep and its confirmations (by id; incremental paging sorts by updatedAt)."""
    by_id = [["id", "asc"]]
    return [r for r in op.requests if r.path == WP_PATH and json.loads(r.query.get("sortBy", "[]")) == by_id]


def confirmations(op: t.Any) -> list[t.Any]:
    return [r for r in sweep_requests(op) if any("id" in f for f in json.loads(r.query["filters"]))]


def tombstones(result: t.Any) -> list[dict[str, t.Any]]:
    return [r for r in result.records.get("work_packages", []) if r.get("_sdc_deleted_at") is not None]


def reported(result: t.Any) -> list[int]:
    return [r["id"] for r in tombstones(result)]


def known_ids(result: t.Any) -> set[int]:
    return decode_ids(result.final_state["bookmarks"]["work_packages"]["deletions"]["known_ids"])


def test_first_run_sets_a_compact_baseline_and_reports_nothing(op):
    result = run_sync(config_for(op, detect_deletions=True), streams=["work_packages"])

    assert result.error is None
    assert tombstones(result) == []
    entry = result.final_state["bookmarks"]["work_packages"]["deletions"]
    assert entry["known_ids"] == "1-60"
    sweep = sweep_requests(op)
    assert len(sweep) == 1, "60 ids fit one page"
    assert sweep[0].query["select"] == "total,elements/id"
    assert json.loads(sweep[0].query["filters"]) == []
    assert int(sweep[0].query["pageSize"]) > 1000, "ask for as many ids as the server allows"


def test_work_packages_deleted_between_runs_are_reported_exactly_once(op):
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    deleted = [5, 17, 60]
    for wp_id in deleted:
        op.store.delete("work_packages", wp_id)
    before = dt.datetime.now(dt.timezone.utc)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)
    third = run_sync(config, streams=["work_packages"], state=second.final_state)

    assert second.error is None and third.error is None
    assert reported(second) == deleted
    for record in tombstones(second):
        assert set(record) == {"id", "_sdc_deleted_at"}
        assert record["_sdc_deleted_at"].endswith("Z")
        assert before - dt.timedelta(seconds=1) <= parse_datetime(record["_sdc_deleted_at"])
        assert parse_datetime(record["_sdc_deleted_at"]) <= dt.datetime.now(dt.timezone.utc)
    assert reported(third) == []
    assert known_ids(third) == set(op.store.ids("work_packages"))
    assert "pending" not in third.final_state["bookmarks"]["work_packages"]["deletions"]


def test_the_schema_declares_the_tombstone_column_and_children_skip_deleted_work_packages(op):
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages", "activities", "attachments"])
    op.store.delete("work_packages", 9)
    op.clear_requests()

    second = run_sync(config, streams=["work_packages", "activities", "attachments"], state=first.final_state)

    schema = next(m for m in second.messages if m["type"] == "SCHEMA" and m["stream"] == "work_packages")["schema"]
    assert schema["properties"]["_sdc_deleted_at"]["format"] == "date-time"
    assert "null" in schema["properties"]["_sdc_deleted_at"]["type"]
    assert reported(second) == [9]
    assert not [r for r in op.requests if r.path.startswith(f"{WP_PATH}/9/")], "no child requests for a tombstone"
    assert "is gone" not in str(second.messages)


def test_deletions_during_the_sweep_are_never_reported_falsely_and_each_deletion_once(make_double):
    # A page cap of 10 makes the sweep page; deleting ids it already served shifts the rows under its cursor, so
    # the next page starts one row later and the sweep misses a work package that still exists.
    op = make_double(work_packages=60, max_page_size=10)
    config = config_for(op, detect_deletions=True, page_size=10, max_concurrency=1)
    first = run_sync(config, streams=["work_packages"])
    between_runs = [44, 45]
    for wp_id in between_runs:
        op.store.delete("work_packages", wp_id)
    during_sweep: list[int] = []
    op.clear_requests()

    def delete_during_sweep(double: t.Any, request: t.Any) -> None:
        sweep_pages = [r for r in sweep_requests(double) if r not in confirmations(double)]
        if request not in sweep_pages or len(sweep_pages) < 2 or len(sweep_pages) > 4:
            return
        served = [i for r in sweep_pages[:-1] for i in (r.element_ids or [])]
        behind = min(i for i in served if i in double.store.rows)  # served already: rows shift under the cursor
        ahead = max(double.store.ids("work_packages"))  # not served yet: the sweep simply no longer sees it
        for wp_id in (behind, ahead):
            double.store.delete("work_packages", wp_id)
            during_sweep.append(wp_id)

    op.on_request = delete_during_sweep
    second = run_sync(config, streams=["work_packages"], state=first.final_state)
    op.on_request = None
    third = run_sync(config, streams=["work_packages"], state=second.final_state)

    assert second.error is None and third.error is None
    assert len(during_sweep) == 6, "the scenario must have deleted during three sweep pages"
    existing = set(op.store.ids("work_packages"))
    all_reported = reported(second) + reported(third)
    assert not set(all_reported) & existing, "a work package that exists was reported deleted"
    assert sorted(all_reported) == sorted(between_runs + during_sweep), "each deletion exactly once"
    assert set(between_runs) <= set(reported(second))
    missed_but_existing = {int(v) for r in confirmations(op) for f in json.loads(r.query["filters"]) if "id" in f
                           for v in f["id"]["values"]} & existing
    assert missed_but_existing, "the shifted sweep must have missed an existing id that the confirmation found"
    assert known_ids(third) == existing


def test_a_work_package_delivered_and_deleted_within_a_run_is_reported(op):
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    created = op.store.create_work_package(subject="short-lived")["id"]

    def delete_before_sweep(double: t.Any, request: t.Any) -> None:
        if request in sweep_requests(double) and created in double.store.rows:
            double.store.delete("work_packages", created)

    op.on_request = delete_before_sweep
    second = run_sync(config, streams=["work_packages"], state=first.final_state)
    op.on_request = None
    third = run_sync(config, streams=["work_packages"], state=second.final_state)

    assert created in second.ids("work_packages")
    ids = second.ids("work_packages")
    assert ids.index(created) < len(ids) - 1 and ids[-1] == created, "delivered, then reported deleted"
    assert reported(second) == [created]
    assert reported(third) == []


def test_a_first_run_remembers_what_it_delivered_and_lost_for_the_next_run(op):
    config = config_for(op, detect_deletions=True)

    def delete_before_sweep(double: t.Any, request: t.Any) -> None:
        if request in sweep_requests(double) and 30 in double.store.rows:
            double.store.delete("work_packages", 30)

    op.on_request = delete_before_sweep
    first = run_sync(config, streams=["work_packages"])
    op.on_request = None
    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert 30 in first.ids("work_packages")
    assert reported(first) == [], "a first run only sets the baseline"
    assert reported(second) == [30]


def test_a_server_rejecting_select_is_swept_with_full_pages(make_double, caplog):
    op = make_double(work_packages=60)
    op.rejects_select = True
    config = config_for(op, detect_deletions=True, page_size=25)
    first = run_sync(config, streams=["work_packages"])
    op.store.delete("work_packages", 12)
    op.clear_requests()

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert first.error is None and second.error is None
    assert reported(second) == [12]
    sweep = sweep_requests(op)
    assert [r.status for r in sweep if "select" in r.query] == [400]
    plain = [r for r in sweep if "select" not in r.query]
    assert plain and {r.query["pageSize"] for r in plain} == {"25"}
    assert "rejects select" in caplog.text


def test_the_sweep_respects_project_scope_and_a_move_out_of_scope_is_not_a_deletion(op):
    in_scope = [wp_id for wp_id in op.store.ids("work_packages") if op.store.rows[wp_id].project_id in (1, 2)]
    outside = [wp_id for wp_id in op.store.ids("work_packages") if op.store.rows[wp_id].project_id not in (1, 2)]
    config = config_for(op, detect_deletions=True, project_ids=[1, 2])
    first = run_sync(config, streams=["work_packages"])
    assert known_ids(first) == set(in_scope)
    moved, deleted, deleted_outside = in_scope[0], in_scope[1], outside[0]
    op.store.update_work_package(moved, project_id=3)
    op.store.delete("work_packages", deleted)
    op.store.delete("work_packages", deleted_outside)
    op.clear_requests()

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    scope_filter = {"project": {"operator": "=", "values": ["1", "2"]}}
    sweep_pages = [r for r in sweep_requests(op) if r not in confirmations(op)]
    assert sweep_pages and all(json.loads(r.query["filters"]) == [scope_filter] for r in sweep_pages)
    assert reported(second) == [deleted]
    assert moved not in known_ids(second), "moved out of scope: forgotten, not reported"
    assert known_ids(second) == set(in_scope) - {moved, deleted}


def test_reporting_stopped_half_way_resumes_with_the_rest(op):
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    op.store.delete("work_packages", 3)
    op.store.delete("work_packages", 7)
    # The state a run leaves when it stops after writing the tombstone of 3: 7 still pending.
    state = json.loads(json.dumps(first.final_state))
    entry = state["bookmarks"]["work_packages"]["deletions"]
    entry.update(known_ids="1-2,4-6,8-60", pending=[7])

    resumed = run_sync(config, streams=["work_packages"], state=state)

    assert reported(resumed) == [7]
    assert "pending" not in resumed.final_state["bookmarks"]["work_packages"]["deletions"]


def test_state_stays_compact_with_scattered_deletions(make_double):
    op = make_double(work_packages=3000)
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    deleted = list(range(7, 3000, 97))
    for wp_id in deleted:
        op.store.delete("work_packages", wp_id)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert sorted(reported(second)) == deleted
    entry = second.final_state["bookmarks"]["work_packages"]["deletions"]
    assert len(json.dumps(entry)) < 600, entry
    assert len([r for r in confirmations(op)]) == 1, "31 candidates fit one confirmation request"


def test_without_detect_deletions_there_is_no_sweep_and_no_state(op):
    result = run_sync(config_for(op), streams=["work_packages"])

    assert sweep_requests(op) == []
    assert "deletions" not in result.final_state["bookmarks"]["work_packages"]


def test_no_sweep_when_only_a_child_of_work_packages_is_selected(op):
    result = run_sync(config_for(op, detect_deletions=True), streams=["activities"])

    assert result.error is None and result.ids("activities")
    assert sweep_requests(op) == [], "tombstones of an unselected stream would never be written"
    assert "deletions" not in result.final_state.get("bookmarks", {}).get("work_packages", {})


# -- the other streams: ACTIVATE_VERSION for full-table streams -------------------------------------------------
FULL_TABLE = ["relations", "versions", "statuses", "users"]
NEVER = ["projects", "work_packages", "time_entries", "categories", "activities", "attachments"]


def test_full_table_streams_activate_a_new_version_and_children_of_incremental_parents_never(op):
    config = config_for(op, emit_activate_version_messages=True)

    result = run_sync(config, streams=FULL_TABLE + NEVER)

    assert result.error is None
    activated = [m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert sorted(activated) == sorted(FULL_TABLE), "once per full-table stream, none for the others"
    for stream in FULL_TABLE:
        versions = {m.get("version") for m in result.messages if m["type"] == "RECORD" and m["stream"] == stream}
        activation = next(m for m in result.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream)
        assert versions == {activation["version"]}, stream
    assert all(
        "version" not in m for m in result.messages if m["type"] == "RECORD" and m["stream"] in NEVER
    )


def test_activate_version_is_off_by_default_and_advertised(op, tmp_path):
    result = run_sync(config_for(op), streams=["relations"])
    about = json.loads(run_cli(["--about", "--format", "json"]).stdout)

    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "activate-version" in about["capabilities"]
    assert about["settings"]["properties"]["emit_activate_version_messages"]["type"] == ["boolean", "null"]
    config_file = write_config(tmp_path, config_for(op, emit_activate_version_messages="yes"))
    assert run_cli(["--config", str(config_file), "--discover"]).returncode == 0, "a boolean setting as text"
