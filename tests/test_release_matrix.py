"""The tap against every release of the double's matrix (OpenProject 12, 14, 16, 17: tests/openproject_double/
releases.py): a full sync delivers exact id sets for every stream the release has and skips each stream it lacks
with one warning; an incremental run delivers exactly what changed; the surface differences are real."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import subprocess
import sys
import urllib.request

import pytest

from tap_openproject.streams import STREAMS_BY_NAME
from tests.helpers import API_KEY, REPO, clean_env, config_for, run_cli, run_sync, write_config
from tests.openproject_double import Dataset, Store
from tests.openproject_double.releases import RELEASES, release
from tests.test_deletions import known_ids

WORK_PACKAGES = 30
ALL_STREAMS = list(STREAMS_BY_NAME)  # the whole catalog
LATER = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)  # after the dataset and the first run
#: The streams each release lacks, so skips: read from the spec's history (releases.HISTORY), asserted exactly.
LACKS: dict[int, set[str]] = {
    12: {"storages", "project_storages", "file_links", "views", "non_working_days", "week_days",
         "project_phase_definitions", "sprints", "labels", "meeting_sections", "meeting_agenda_items",
         "meeting_outcomes"},
    14: {"project_phase_definitions", "sprints", "labels", "meeting_sections", "meeting_agenda_items",
         "meeting_outcomes"},
    16: {"sprints", "labels", "meeting_sections", "meeting_agenda_items", "meeting_outcomes"},
    17: set(),
}
#: Hierarchy and weighted item list custom fields (ids 13, 14 of the dataset) exist from 16 on: before, the work
#: package schemas hold none, so custom_field_items has nothing to read (empty, not skipped: the tap cannot tell
#: "no such field" from "no such feature", and both mean there is no item to deliver).
HIERARCHY_FIELDS = {13, 14}


def _sync(make_double, number: int, caplog, **config):
    op = make_double(work_packages=WORK_PACKAGES, release=number)
    with caplog.at_level(logging.WARNING):
        result = run_sync(config_for(op, **config))
    return op, result


def _expected(op, number: int, stream: str) -> list[int]:
    if stream == "principals":
        return sorted(op.store.ids("users") + op.store.ids("groups") + op.store.ids("placeholder_users"))
    if stream == "custom_fields" and number < 16:
        return [i for i in op.store.ids("custom_fields") if i not in HIERARCHY_FIELDS]
    if stream == "custom_field_items" and number < 16:
        return []
    if stream == "time_entry_activities":  # no list exists: the activities the time entries link
        return sorted({int(e["_links"]["activity"]["href"].rsplit("/", 1)[1]) for e in op.store.time_entries.values()})
    return op.store.ids(stream)


def _skip_warnings(caplog, stream: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelname == "WARNING" and r.getMessage().startswith(f"Skipping stream {stream}:")]


@pytest.mark.parametrize("number", RELEASES)
def test_full_sync_delivers_exact_sets_and_skips_what_the_release_lacks(make_double, caplog, number):
    op, result = _sync(make_double, number, caplog)

    assert result.error is None
    assert set(result.tap.run_context.unavailable.reasons) == LACKS[number]
    for stream in ALL_STREAMS:
        if stream in LACKS[number]:
            assert result.ids(stream) == [], stream
            assert len(_skip_warnings(caplog, stream)) == 1, stream
        else:
            assert sorted(result.ids(stream)) == _expected(op, number, stream), stream
            assert _skip_warnings(caplog, stream) == [], stream
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipped streams:")]
    assert len(summary) == (1 if LACKS[number] else 0)


@pytest.mark.parametrize("number", RELEASES)
def test_incremental_run_delivers_exactly_the_touched_work_packages(make_double, caplog, number):
    op = make_double(work_packages=WORK_PACKAGES, release=number)
    streams = ["work_packages", "time_entries", "memberships", "projects"]
    config = config_for(op)
    first = run_sync(config, streams=streams)
    touched = op.store.ids("work_packages")[3], op.store.ids("work_packages")[17]
    for wp_id in touched:
        op.store.touch("work_packages", wp_id, at=LATER)
    caplog.clear()

    with caplog.at_level(logging.WARNING):
        second = run_sync(config, streams=streams, state=first.final_state)

    assert second.error is None
    assert sorted(second.ids("work_packages")) == sorted(touched)
    assert second.ids("time_entries") == [] and second.ids("memberships") == []
    fallback = "cannot filter or sort projects by updatedAt" in caplog.text and "full-table read" in caplog.text
    if release(number).has("projects_updated_at"):
        assert second.ids("projects") == [] and not fallback
    else:  # the projects updatedAt filter came after 16.0: every run reads the whole table, and says so
        assert sorted(second.ids("projects")) == op.store.ids("projects") and fallback


@pytest.mark.parametrize("number", RELEASES)
def test_deleted_work_packages_are_reported_on_every_release(make_double, number):
    # 12.0 ignores select (the sweep gets full elements) and caps pages at 500: the sweep must still be exact.
    op = make_double(work_packages=WORK_PACKAGES, release=number)
    config = config_for(op, detect_deletions=True)
    first = run_sync(config, streams=["work_packages"])
    for wp_id in (4, 19):
        op.store.delete("work_packages", wp_id)

    second = run_sync(config, streams=["work_packages"], state=first.final_state)

    assert first.error is None and second.error is None
    assert sorted(r["id"] for r in second.records.get("work_packages", []) if r.get("_sdc_deleted_at")) == [4, 19]


def test_release_12_caps_pages_at_500_and_the_tap_reads_every_work_package(make_double):
    op = make_double(work_packages=620, release=12)

    result = run_sync(config_for(op, page_size=1000, detect_deletions=True), streams=["work_packages"])

    assert result.error is None
    assert sorted(result.ids("work_packages")) == op.store.ids("work_packages")
    assert known_ids(result) == set(op.store.ids("work_packages")), "the sweep read past the first 500"
    assert _get(op, "/api/v3/work_packages?pageSize=1000&filters=[]")["pageSize"] == 500


def test_records_per_stream_of_a_full_sync_for_each_release(make_double, caplog, record_property):
    table: dict[str, dict[int, int]] = {stream: {} for stream in ALL_STREAMS}
    for number in RELEASES:
        _, result = _sync(make_double, number, caplog)
        assert result.error is None
        for stream in ALL_STREAMS:
            table[stream][number] = len(result.records.get(stream, []))

    lines = ["stream".ljust(26) + "".join(f"{n:>6}" for n in RELEASES)]
    lines += [stream.ljust(26) + "".join(f"{table[stream][n]:>6}" for n in RELEASES) for stream in ALL_STREAMS]
    print("\nrecords per stream of a full sync, by release\n" + "\n".join(lines))
    record_property("records_per_stream", json.dumps(table))
    for stream, counts in table.items():
        for number, count in counts.items():
            empty = stream in LACKS[number] or (stream == "custom_field_items" and number < 16)
            assert (count == 0) == empty, (stream, number)


# --- the surface differences, one by one ------------------------------------------------------------------------
def _get(op, path: str) -> dict:
    request = urllib.request.Request(op.url + path, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the double on 127.0.0.1
        return json.loads(response.read())


@pytest.mark.parametrize("number", RELEASES)
def test_the_root_reports_the_release_and_work_packages_carry_only_its_links(make_double, number):
    op = make_double(work_packages=WORK_PACKAGES, release=number)

    assert _get(op, "/api/v3")["coreVersion"].startswith(f"{number}.")
    links = set().union(*(_get(op, f"/api/v3/work_packages/{i}")["_links"] for i in op.store.ids("work_packages")))
    assert ("sprint" in links) == (number >= 17)
    assert ("projectPhase" in links and "projectPhaseDefinition" in links) == (number >= 16)
    assert ("ownName" in _get(op, "/api/v3/types/1")) == (number >= 17)


def test_release_12_pages_differently_and_has_no_select(make_double):
    op = make_double(work_packages=WORK_PACKAGES, release=12)

    relations = _get(op, "/api/v3/relations?pageSize=2")
    meetings = _get(op, "/api/v3/meetings?pageSize=2")
    projects = _get(op, "/api/v3/projects?pageSize=1000&select=total,elements/id")

    assert "pageSize" not in relations and relations["count"] == len(op.store.ids("relations"))
    assert "pageSize" not in meetings and meetings["count"] == len(op.store.ids("meetings"))
    assert projects["pageSize"] == 500, "before apiv3_max_page_size: an internal maximum of 500"
    assert set(projects["_embedded"]["elements"][0]) > {"id"}, "select is ignored: full elements"
    assert _get(op, "/api/v3/relations?pageSize=2") == relations
    assert "pageSize" in _get(make_double(release=14), "/api/v3/relations?pageSize=2")
    assert "pageSize" in _get(make_double(release=16), "/api/v3/meetings?pageSize=2")


def test_project_status_is_a_string_on_12_and_the_tap_keeps_it(make_double):
    old, new = make_double(work_packages=10, release=12), make_double(work_packages=10, release=14)

    project = _get(old, "/api/v3/projects/1")
    old_records = run_sync(config_for(old), streams=["projects"]).records["projects"]
    new_records = run_sync(config_for(new), streams=["projects"]).records["projects"]

    assert project["status"] == "on_track" and "status" not in project["_links"]
    # No data lost: on 12 the string lands in unmapped_properties, from 14 on in status_id.
    assert {r["unmapped_properties"]["status"] for r in old_records} == {"on_track"}
    assert {r["status_id"] for r in old_records} == {None}
    assert {r["status_id"] for r in new_records} == {"on_track"}


def test_programs_and_portfolios_are_projects_before_17():
    for number, expected in ((16, ("Project", "/api/v3/projects/2")), (17, ("Program", "/api/v3/programs/2"))):
        store = Store(Dataset.generate(work_packages=5, seed=7))
        program = store.projects[2]
        program["_type"], program["_links"]["self"]["href"] = "Program", "/api/v3/programs/2"
        release(number).apply(store)
        assert (program["_type"], program["_links"]["self"]["href"]) == expected


def test_unknown_release_is_refused():
    with pytest.raises(ValueError, match="release must be one of 12, 14, 16, 17"):
        release(15)


def test_the_double_command_serves_a_release_and_the_tap_skips_cleanly(tmp_path):
    port_file = tmp_path / "port"
    double = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tests.openproject_double", "--release", "12", "--work-packages", "20",
         "--api-key", API_KEY, "--port-file", str(port_file)],
        cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert double.stdout is not None
        line = double.stdout.readline()  # printed once the port file is written
        assert "listening on" in line, line
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        config = write_config(tmp_path, {"base_url": url, "api_key": API_KEY})

        done = run_cli(["--config", str(config)])
    finally:
        double.send_signal(signal.SIGTERM)
        double.wait(timeout=10)

    assert done.returncode == 0, done.stderr[-2000:]
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    streams = {m["stream"] for m in messages if m["type"] == "RECORD"}
    assert streams.isdisjoint(LACKS[12]) and "work_packages" in streams
    for stream in sorted(LACKS[12]):
        assert done.stderr.count(f"Skipping stream {stream}:") == 1, stream
