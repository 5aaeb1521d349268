"""Answers the tap must not take at their word: a `total` that undercounts (a row created between the server's
COUNT and SELECT, a proxy rewriting bodies) and elements without the keys a record needs.

Paging never ends on `total` alone while the last page read was full; an element without an integer id (or, on an
incremental stream, without its replication key) stops the stream with one clear line instead of becoming a
record with `id: null`.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tap_openproject.deletions import decode_ids
from tap_openproject.paging import NumberedPages, Query
from tap_openproject.tap import TapOpenProject
from tests.helpers import FakeClock, catalog_for, config_for, parse_messages, run_cli, run_sync, write_config
from tests.openproject_double import Fault

UNDERCOUNT_WARNING = "the server's total undercounted"


def undercount_warnings(caplog: pytest.LogCaptureFixture, stream: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if UNDERCOUNT_WARNING in r.getMessage() and stream in r.getMessage()]


# -- total undercounts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("stream", ["work_packages", "time_entries", "relations", "news"])
def test_a_total_that_undercounts_loses_no_record(make_double, caplog, stream, concurrency):
    op = make_double(work_packages=240)
    expected = op.store.ids(stream)
    by = 30 if len(expected) > 40 else 4
    op.add_fault(Fault("undercount", path=rf"^/api/v3/{stream}$", by=by))
    page_size = 10 if len(expected) > 40 else 2

    result = run_sync(config_for(op, page_size=page_size, max_concurrency=concurrency), streams=[stream])

    assert result.error is None, result.error
    delivered = result.ids(stream)
    assert sorted(delivered) == expected, f"expected {len(expected)} {stream}, delivered {len(set(delivered))}"
    assert len(delivered) == len(set(delivered)), "each record once"
    assert len(undercount_warnings(caplog, stream)) == 1, "one warning per stream"


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_child_reader_and_project_routes_read_past_an_undercounting_total(make_double, concurrency):
    # The double's child collections (activities, attachments, categories) are unpaginated, as on OpenProject;
    # a paginated one would be read like this: page by page on one pool thread (NumberedPages(parallel=False)),
    # or through Pager.elements (per-project routes, discovery).
    op = make_double(work_packages=240)
    op.add_fault(Fault("undercount", path=r"^/api/v3/relations$", by=30))
    tap = TapOpenProject(config=config_for(op, page_size=10, max_concurrency=concurrency), clock=FakeClock())
    pager = tap.run_context.pager
    query = Query(label="relations", path="/relations", flatten=lambda e: {"id": e["id"]}, reports_total=False)
    try:
        child = [r["id"] for r in NumberedPages(parallel=False).records(pager, query)]
        listed = [e["id"] for e in pager.elements("relations", "/relations", keys=("id",))]
    finally:
        tap.run_context.close()

    assert sorted(child) == sorted(listed) == op.store.ids("relations")
    assert len(child) == len(listed) == 48


def test_a_full_last_page_costs_one_confirming_request_and_a_short_one_none(make_double):
    op = make_double(work_packages=60)
    assert len(op.store.ids("relations")) == 12

    full = run_sync(config_for(op, page_size=4, max_concurrency=1), streams=["relations"])
    full_offsets = [int(r.query["offset"]) for r in op.requests if r.path == "/api/v3/relations"]
    op.clear_requests()
    short = run_sync(config_for(op, page_size=5, max_concurrency=1), streams=["relations"])
    short_offsets = [int(r.query["offset"]) for r in op.requests if r.path == "/api/v3/relations"]

    assert sorted(full.ids("relations")) == sorted(short.ids("relations")) == op.store.ids("relations")
    assert full_offsets == [1, 2, 3, 4], "12 = 3 full pages: the empty page 4 confirms the total"
    assert short_offsets == [1, 2, 3], "a short last page needs no confirmation"


def test_parallel_pages_confirm_a_full_final_page_of_the_planned_range(make_double):
    op = make_double(work_packages=60)

    result = run_sync(config_for(op, page_size=4, max_concurrency=4), streams=["relations"])

    offsets = sorted(int(r.query["offset"]) for r in op.requests if r.path == "/api/v3/relations")
    assert sorted(result.ids("relations")) == op.store.ids("relations")
    assert offsets == [1, 2, 3, 4]


def test_a_deletion_sweep_under_an_undercounting_total_reports_no_false_deletion(make_double, caplog):
    # Pages of 50 (the smallest maximum a server allows) and a total 120 short: without the rule the sweep ends
    # 100 ids early and the confirmation, also paged under the same total, leaves 50 of them unconfirmed.
    op = make_double(work_packages=300, max_page_size=50)
    config = config_for(op, detect_deletions=True, max_concurrency=1)
    first = run_sync(config, streams=["work_packages"])
    deleted = [7, 150, 299]
    for wp_id in deleted:
        op.store.delete("work_packages", wp_id)
    op.add_fault(Fault("undercount", path=r"^/api/v3/work_packages$", by=120))

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert first.error is None and second.error is None, second.error
    tombstones = [r["id"] for r in second.records.get("work_packages", []) if r.get("_sdc_deleted_at")]
    assert tombstones == deleted, f"reported {len(tombstones)} deletions, expected {len(deleted)}"
    entry = second.final_state["bookmarks"]["work_packages"]["deletions"]
    assert decode_ids(entry["known_ids"]) == set(op.store.ids("work_packages"))
    assert undercount_warnings(caplog, "work_packages")


# -- malformed elements --------------------------------------------------------------------------------------------
def cli_sync(op: t.Any, tmp_path: t.Any, streams: list[str], **settings: t.Any) -> t.Any:
    config = config_for(op, **settings)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, streams)))
    return run_cli(["--config", str(write_config(tmp_path, config)), "--catalog", str(catalog)])


def records_of(result: t.Any) -> list[dict[str, t.Any]]:
    return [m for m in parse_messages(result.stdout) if m["type"] == "RECORD"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "| CRITICAL" in line]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_work_package_without_an_id_stops_the_stream_with_one_clear_line(op, tmp_path, concurrency):
    op.add_fault(Fault("malformed_element", path=r"^/api/v3/work_packages$", skip=1, element=3))

    result = cli_sync(op, tmp_path, ["work_packages", "activities"], page_size=10, max_concurrency=concurrency)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    records = records_of(result)
    assert all(m["record"].get("id") is not None for m in records), "no record without a key"
    assert not [r for r in op.requests if "/None" in r.path], "no child request for a missing id"
    lines = error_lines(result.stderr)
    assert any(
        "work_packages: GET /api/v3/work_packages returned an element without an integer id (element 3 of page"
        in line
        for line in lines
    ), result.stderr
    assert any("refusing to deliver a record without a key" in line for line in lines)


@pytest.mark.parametrize("value", [None, "12", True])
def test_an_id_that_is_not_an_integer_is_refused(op, value):
    op.add_fault(Fault("malformed_element", path=r"^/api/v3/relations$", times=1, element=2, value=value))

    result = run_sync(config_for(op, page_size=5, max_concurrency=1), streams=["relations"])

    assert result.error is not None and result.error.exit_code == 1
    assert "relations: GET /api/v3/relations returned an element without an integer id (element 2 of page 1)" in (
        str(result.error)
    )
    assert all(isinstance(i, int) and not isinstance(i, bool) for i in result.ids("relations"))


def test_an_incremental_element_without_its_replication_key_is_refused(op, tmp_path):
    op.add_fault(Fault("malformed_element", path=r"^/api/v3/time_entries$", times=1, element=4, field="updatedAt"))

    result = cli_sync(op, tmp_path, ["time_entries"], page_size=10, max_concurrency=1)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not records_of(result), "nothing from the malformed page"
    assert any(
        "time_entries: GET /api/v3/time_entries returned an element without a valid updatedAt (element 4 of page 1)"
        in line
        for line in error_lines(result.stderr)
    ), result.stderr


def test_a_sweep_element_without_an_id_fails_instead_of_reporting_a_deletion(op):
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    armed: list[Fault] = []

    def blank_an_id_in_the_sweep(double: t.Any, request: t.Any) -> None:
        if "select" in request.query and not armed:  # the stream's own pages pass; the sweep's first page not
            armed.append(double.add_fault(Fault("malformed_element", path=r"^/api/v3/work_packages$", times=1)))

    op.on_request = blank_an_id_in_the_sweep
    second = run_sync(config, streams=["work_packages"], state=first.final_state)
    op.on_request = None

    assert second.error is not None and second.error.exit_code == 1
    assert armed and armed[0].applied == 1
    assert "without an integer id" in str(second.error)
    assert not [r for r in second.records.get("work_packages", []) if r.get("_sdc_deleted_at")]
