"""The tap's own record loop (sdk_hooks.StreamHooks._sync_records) writes exactly what the SDK's loop writes: the
same messages in the same order, the same STATE; stream maps, flattening and deselected properties still work
(those runs take the SDK's loop, or the catalog's pruning, as before)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io

import pytest

from tap_openproject.sdk_hooks import StreamHooks
from tap_openproject.tap import GC_THRESHOLD, TapOpenProject
from tests.helpers import FakeClock, catalog_for, config_for, parse_messages, run_sync

STREAMS = ["work_packages", "activities", "attachments", "time_entries", "statuses", "categories", "projects"]


def comparable(messages: list[dict]) -> list[dict]:
    """Every message, without the times taken from the wall clock (extraction time, the SDK's signpost)."""
    out = []
    for message in messages:
        if message["type"] == "RECORD":
            assert dt.datetime.fromisoformat(message.pop("time_extracted").replace("Z", "+00:00")).tzinfo
        if message["type"] == "STATE":
            for entry in message["value"].get("bookmarks", {}).values():
                entry.pop("replication_key_signpost", None)
        out.append(message)
    return out


@pytest.fixture
def sdk_loop(monkeypatch):
    """Turn the tap's record loop off: every stream takes the SDK's own."""

    def use_sdk_loop() -> None:
        monkeypatch.setattr(StreamHooks, "takes_lean_path", lambda self: False)

    return use_sdk_loop


@pytest.mark.parametrize("max_concurrency", [1, 4])
def test_the_record_loop_writes_what_the_sdks_loop_writes(make_double, sdk_loop, max_concurrency):
    op = make_double(work_packages=150)
    config = config_for(op, page_size=40, max_concurrency=max_concurrency)

    lean = run_sync(config, streams=STREAMS)
    sdk_loop()
    sdk = run_sync(config, streams=STREAMS)

    assert lean.error is None and sdk.error is None
    assert len(lean.records["work_packages"]) == 150 and lean.records["activities"]
    assert comparable(lean.messages) == comparable(sdk.messages)


def test_the_record_loop_is_taken_by_default_and_not_with_a_stream_map(op):
    plain = run_sync(config_for(op), streams=["work_packages"])
    mapped = run_sync(config_for(op, stream_maps={"work_packages": {"subject": None}}), streams=["work_packages"])

    assert plain.tap.streams["work_packages"].takes_lean_path()
    assert not mapped.tap.streams["work_packages"].takes_lean_path()
    assert all("subject" in r for r in plain.records["work_packages"])
    assert mapped.records["work_packages"] and not any("subject" in r for r in mapped.records["work_packages"])
    assert [r["id"] for r in mapped.records["work_packages"]] == [r["id"] for r in plain.records["work_packages"]]
    assert mapped.final_state == plain.final_state


def test_an_aliased_stream_map_keeps_its_records_and_state(op):
    config = config_for(op, stream_maps={"statuses": {"__alias__": "status_list"}})
    result = run_sync(config, streams=["statuses"])

    assert not result.tap.streams["statuses"].takes_lean_path()
    assert sorted(r["id"] for r in result.records["status_list"]) == op.store.ids("statuses")
    assert "statuses" not in result.records


def test_flattening_takes_the_sdks_loop_and_flattens(op):
    config = config_for(op, flattening_enabled=True, flattening_max_depth=1)
    result = run_sync(config, streams=["work_packages"])

    assert not result.tap.streams["work_packages"].takes_lean_path()
    records = result.records["work_packages"]
    assert len(records) == len(op.store.ids("work_packages"))
    assert all("description" not in r and "description__raw" in r for r in records)


def test_deselected_properties_never_leave_the_record_loop(op):
    config = config_for(op)
    catalog = catalog_for(config, ["work_packages"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "work_packages")
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] in (["properties", "description"], ["properties", "subject"]):
            metadata["metadata"]["selected"] = False



    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tap = TapOpenProject(config=config, catalog=catalog, clock=FakeClock())
        tap.run()
    records = [m["record"] for m in parse_messages(out.getvalue()) if m["type"] == "RECORD"]

    assert tap.streams["work_packages"].takes_lean_path()
    assert sorted(r["id"] for r in records) == op.store.ids("work_packages")
    assert not any("description" in r or "subject" in r for r in records)
    assert all("updatedAt" in r and "status_id" in r for r in records)


def test_a_run_keeps_the_cyclic_collector_off_the_decoded_pages(op):
    """README, Performance: the start-up's objects are frozen out of the collector's view, and it runs every
    GC_THRESHOLD allocations instead of 700 (decoding a page cost three times as much with the default)."""
    before = gc.get_threshold()
    try:
        result = run_sync(config_for(op), streams=["statuses"])
        assert result.error is None
        assert gc.get_threshold()[0] == GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
