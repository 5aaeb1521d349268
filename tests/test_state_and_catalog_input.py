"""--state and --catalog through the real command: a broken or foreign file ends the run before any request with
exit 2 and one line (which file, what is wrong, what to do); the forms users really pass (Meltano's wrapper, a whole
STATE message) resume exactly; bookmarks ahead of the server's clock are refused, or moved back within the clock-skew
tolerance; a catalog that selects nothing known, or lacks replication metadata, does not sync silently wrong."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.helpers import catalog_for, config_for, parse_messages, run_cli, write_config

#: After every bookmark of the double's generated data (2025), before now.
CHANGED_AT = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
STATE_FIX = (
    "restore it from the last STATE message of a good run, or pass {} to start over (every stream is read in full)"
)
CATALOG_FIX = "write a new one with `tap-openproject --config CONFIG --discover` and select the streams in it"


def logged(stderr: str, level: str) -> list[str]:
    """The messages logged at `level` (the console format is `time | level | logger | message`)."""
    parts = (line.split(" | ", 3) for line in stderr.splitlines())
    return [p[3] for p in parts if len(p) == 4 and p[1].strip() == level]


def records(stdout: str, stream: str) -> list[int]:
    return [m["record"]["id"] for m in parse_messages(stdout) if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(stdout: str) -> dict:
    return [m["value"] for m in parse_messages(stdout) if m["type"] == "STATE"][-1]


def assert_refused_before_any_request(result, op, line: str) -> None:
    assert result.returncode == 2, result.stderr
    assert logged(result.stderr, "ERROR") == [line]
    assert "Traceback" not in result.stderr and "Unexpected" not in result.stderr
    assert result.stdout == ""
    assert op.requests == []


@pytest.fixture
def files(op, tmp_path):
    """Config, and writers for a state and a catalog file, for the double."""

    class Files:
        config = write_config(tmp_path, config_for(op))
        state = tmp_path / "state.json"
        catalog = tmp_path / "catalog.json"

        def run(self, *, state: str | dict | None = None, catalog: str | dict | None = None):
            args = ["--config", str(self.config)]
            for path, content, option in ((self.state, state, "--state"), (self.catalog, catalog, "--catalog")):
                if content is not None:
                    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
                    args += [option, str(path)]
            op.clear_requests()
            return run_cli(args)

    return Files()


@pytest.fixture
def wp_catalog(op):
    return catalog_for(config_for(op), ["work_packages"])


def bookmark(value: str, **extra) -> dict:
    return {"bookmarks": {"work_packages": {"replication_key": "updatedAt", "replication_key_value": value, **extra}}}


def synced_state(files, wp_catalog) -> dict:
    first = files.run(catalog=wp_catalog)
    assert first.returncode == 0, first.stderr
    return last_state(first.stdout)


# -- broken state files ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", " is empty: " + STATE_FIX),
        ("{bookmarks", " is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2): "
         + STATE_FIX),
        ('"2024-07-01"', ': expected a JSON object like {"bookmarks": {...}}, found a string; ' + STATE_FIX),
        ('{"bookmarks": []}', ': "bookmarks" must be an object of stream names, found a list; ' + STATE_FIX),
        ('{"bookmarks": {"work_packages": "2024-07-01"}}',
         ": bookmarks.work_packages must be an object, found a string; " + STATE_FIX),
        (json.dumps(bookmark("yesterday")),
         ": bookmarks.work_packages.replication_key_value is not a timestamp ('yesterday'); set an ISO 8601 time "
         "such as 2024-07-01T00:00:00Z, or remove the stream's bookmark to read it in full"),
        (json.dumps(bookmark("2024-07-01T00:00:00Z", delivered_in_bookmark_second="x")),
         ": bookmarks.work_packages.delivered_in_bookmark_second must be an object, found a string; remove it: the "
         "next run delivers the records of the bookmark's second again (duplicates, never gaps)"),
        (json.dumps(bookmark("2024-07-01T00:00:00Z", delivered_in_bookmark_second={"second": 5})),
         ': bookmarks.work_packages.delivered_in_bookmark_second "second" must be a string, found a number; remove '
         "it: the next run delivers the records of the bookmark's second again (duplicates, never gaps)"),
        (json.dumps(bookmark("2024-07-01T00:00:00Z", delivered_in_lookback=["12"])),
         ": bookmarks.work_packages.delivered_in_lookback must be an object, found a list; remove it: the next run "
         "delivers the records of the lookback window again (duplicates, never gaps)"),
        (json.dumps(bookmark("2024-07-01T00:00:00Z", delivered_in_lookback={"12": 5})),
         ": bookmarks.work_packages.delivered_in_lookback must map record ids to versions; remove it: the next run "
         "delivers the records of the lookback window again (duplicates, never gaps)"),
        ('{"work_packages": {"replication_key_value": "2024-07-01T00:00:00Z"}}',
         ': no "bookmarks" in it (its keys: work_packages), so it is not a Singer state; pass the value of the last '
         "STATE message of a run, or {} to start over"),
        ('{"bookmarks": {"work_packages": {"replication_key_value": "2024-07-01T00:00:00Z"}}}',
         ': bookmarks.work_packages has no replication_key, but this tap bookmarks work_packages by updatedAt: set '
         '"replication_key": "updatedAt" if the value is a bookmark of updatedAt, or remove the bookmark (the stream is read '
         "in full)"),
    ],
    ids=["empty", "not-json", "json-string", "bookmarks-list", "stream-not-object", "bookmark-not-a-date",
         "boundary-not-object", "boundary-second-number", "delivered-not-object", "delivered-not-versions",
         "no-bookmarks-key", "no-replication-key"],
)
def test_a_broken_state_file_is_refused_with_one_line_before_any_request(op, files, content, problem):
    result = files.run(state=content)

    assert_refused_before_any_request(result, op, f"state file {files.state}{problem}")


# -- the forms of state users really pass ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "wrap",
    [lambda state: {"singer_state": state}, lambda state: {"type": "STATE", "value": state}],
    ids=["meltano-singer-state", "whole-state-message"],
)
def test_meltano_wrapper_and_a_whole_state_message_resume_exactly_after_the_bookmark(op, files, wp_catalog, wrap):
    state = synced_state(files, wp_catalog)
    changed = op.store.ids("work_packages")[4], op.store.ids("work_packages")[31]
    for wp_id in changed:
        op.store.touch("work_packages", wp_id, at=CHANGED_AT)

    resumed = files.run(state=wrap(state), catalog=wp_catalog)

    assert resumed.returncode == 0, resumed.stderr
    assert sorted(records(resumed.stdout, "work_packages")) == sorted(changed)
    assert logged(resumed.stderr, "ERROR") == []


def test_bookmarks_under_names_this_tap_does_not_have_are_warned_about(op, files, wp_catalog):
    state = synced_state(files, wp_catalog)
    # "issues" holds what the SDK itself would trip over when it resets progress markers at the start of a sync
    issues = {"progress_markers": "x", "partitions": "y"}
    foreign = {"bookmarks": {"workpackages": state["bookmarks"]["work_packages"], "issues": issues}}

    result = files.run(state=foreign, catalog=wp_catalog)

    assert result.returncode == 0, result.stderr
    assert f"state file {files.state}: bookmarks for streams this tap does not have are ignored: workpackages (did " \
           "you mean work_packages?), issues" in logged(result.stderr, "WARNING")
    assert sorted(records(result.stdout, "work_packages")) == op.store.ids("work_packages")
    assert last_state(result.stdout)["bookmarks"]["workpackages"] == state["bookmarks"]["work_packages"], "kept"


def test_bookmarks_of_streams_the_catalog_does_not_select_are_warned_about(op, files):
    state = bookmark("2024-07-01T00:00:00.000Z")

    result = files.run(state=state, catalog=catalog_for(config_for(op), ["statuses"]))

    assert result.returncode == 0, result.stderr
    assert logged(result.stderr, "WARNING") == [
        f"state file {files.state}: bookmarks for streams the catalog does not select are kept unchanged: work_packages"
    ]
    assert last_state(result.stdout)["bookmarks"]["work_packages"] == state["bookmarks"]["work_packages"]


# -- bookmarks in the future -----------------------------------------------------------------------------------------
FUTURE_LINE = re.compile(
    r"state file (?P<file>\S+): bookmark in the future: work_packages at (?P<value>\S+) is (?P<ahead>.+) ahead of the "
    r"sync's start \((?P<start>\S+), by the server's clock\); this state cannot come from a run against this server "
    r"\(copied from another instance, or written under a wrong clock\): fix or remove the bookmark \(without it the "
    r"stream is read in full\)"
)


def canonical(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_bookmark_a_day_ahead_of_the_servers_clock_is_refused_with_exit_2(op, files, wp_catalog):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ahead = canonical(now + dt.timedelta(days=1))

    result = files.run(state=bookmark(ahead), catalog=wp_catalog)

    assert result.returncode == 2, result.stderr
    (line,) = logged(result.stderr, "ERROR")
    match = FUTURE_LINE.fullmatch(line)
    assert match, line
    assert match["file"] == str(files.state) and match["value"] == ahead
    start = parse(match["start"])
    assert abs(start - now) < dt.timedelta(minutes=1), "the sync's start is the server's now"
    assert match["ahead"] == str(parse(ahead) - start)
    assert "Traceback" not in result.stderr and "Unexpected" not in result.stderr
    assert [r.path for r in op.requests] == ["/api/v3/users/me"], "only the probe that reads the server's clock"
    assert result.stdout == ""


def test_a_bookmark_within_the_clock_skew_tolerance_is_moved_back_and_loses_nothing(op, files, wp_catalog):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ahead = canonical(now + dt.timedelta(minutes=2))
    # Saved after the server's "now" but before the bookmark: a run that trusted the bookmark would never read it.
    op.store.set_clock(now + dt.timedelta(minutes=1))
    saved = op.store.ids("work_packages")[9]
    op.store.touch("work_packages", saved)
    op.store.set_clock(None)

    result = files.run(state=bookmark(ahead), catalog=wp_catalog)

    assert result.returncode == 0, result.stderr
    (warning,) = [w for w in logged(result.stderr, "WARNING") if "clock skew" in w]
    match = re.fullmatch(
        rf"state file {re.escape(str(files.state))}: the bookmark of work_packages \({re.escape(ahead)}\) is "
        r"(?P<ahead>\S+) ahead of the sync's start \((?P<start>\S+)\), within the 5 minutes allowed for clock skew: "
        r"starting from (?P=start)",
        warning,
    )
    assert match, warning
    assert match["ahead"] == str(parse(ahead) - parse(match["start"]))
    assert records(result.stdout, "work_packages") == [saved]
    assert last_state(result.stdout)["bookmarks"]["work_packages"]["replication_key_value"] <= match["start"]


# -- broken catalogs -------------------------------------------------------------------------------------------------
def renamed(catalog: dict, old: str, new: str) -> dict:
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == old:
            entry["tap_stream_id"] = entry["stream"] = new
    return catalog


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", " is empty: " + CATALOG_FIX),
        ("[[[", " is not valid JSON (Expecting value at line 1, column 4): " + CATALOG_FIX),
        ("[]", ': expected a Singer catalog, an object with a "streams" list, found a list; ' + CATALOG_FIX),
        ('{"streams": {}}',
         ': expected a Singer catalog, an object with a "streams" list, found "streams" as an object; ' + CATALOG_FIX),
        ('{"streams": [{"stream": "work_packages"}]}',
         ': streams[0] has no "tap_stream_id" (the stream name); ' + CATALOG_FIX),
        ('{"streams": [{"tap_stream_id": "work_packages", "metadata": [{"breadcrumb": [], "metadata": '
         '{"selected": "yes"}}]}]}',
         ": stream work_packages: \"selected\" must be true or false, found 'yes'; " + CATALOG_FIX),
        ('{"streams": []}',
         ' selects no stream (no "selected": true in any stream\'s metadata); select one, or ' + CATALOG_FIX),
    ],
    ids=["empty", "not-json", "list", "streams-object", "no-stream-id", "selected-not-bool", "no-streams"],
)
def test_a_broken_catalog_file_is_refused_with_one_line_before_any_request(op, files, content, problem):
    result = files.run(catalog=content)

    assert_refused_before_any_request(result, op, f"catalog file {files.catalog}{problem}")


def test_a_catalog_that_selects_only_unknown_streams_is_refused(op, files, wp_catalog):
    result = files.run(catalog=renamed(wp_catalog, "work_packages", "work_package"))

    assert_refused_before_any_request(
        result,
        op,
        f"catalog file {files.catalog} selects no stream of this tap, only unknown ones: work_package (did you mean "
        f"work_packages?); fix the names, or {CATALOG_FIX}",
    )


def test_an_unknown_stream_next_to_known_ones_is_warned_about_and_the_known_ones_sync(op, files):
    catalog = catalog_for(config_for(op), ["work_packages", "statuses"])
    catalog = renamed(catalog, "statuses", "statusses")

    result = files.run(catalog=catalog)

    assert result.returncode == 0, result.stderr
    assert logged(result.stderr, "WARNING") == [
        f"catalog file {files.catalog}: ignoring selected streams this tap does not have: statusses (did you mean "
        "statuses?)"
    ]
    assert sorted(records(result.stdout, "work_packages")) == op.store.ids("work_packages")
    assert {m["stream"] for m in parse_messages(result.stdout) if m["type"] == "RECORD"} == {"work_packages"}


def test_a_replication_key_the_tap_does_not_support_is_refused(op, files, wp_catalog):
    catalog = json.loads(json.dumps(wp_catalog))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "work_packages":
            entry["replication_key"] = "createdAt"

    result = files.run(catalog=catalog)

    assert_refused_before_any_request(
        result,
        op,
        f"catalog file {files.catalog}: work_packages: replication key 'createdAt' is not supported, only updatedAt; "
        f"set updatedAt, or {CATALOG_FIX}",
    )


def test_a_schema_without_its_replication_key_is_refused(op, files, wp_catalog):
    """Before: `Unexpected InvalidReplicationKeyException ... please report it`, exit 1."""
    catalog = json.loads(json.dumps(wp_catalog))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "work_packages":
            del entry["schema"]["properties"]["updatedAt"]

    result = files.run(catalog=catalog)

    assert_refused_before_any_request(
        result,
        op,
        f"catalog file {files.catalog}: work_packages: the replication key updatedAt is not in the stream's schema; "
        "put the property back (or write the catalog again with `tap-openproject --config CONFIG --discover`), or "
        "set replication-method FULL_TABLE to read the stream in full",
    )


# -- replication metadata --------------------------------------------------------------------------------------------
def without_replication_metadata(catalog: dict) -> dict:
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        entry.pop("replication_key", None)
        entry.pop("replication_method", None)
        for item in entry["metadata"]:
            for key in ("replication-key", "replication-method", "forced-replication-method", "valid-replication-keys"):
                item["metadata"].pop(key, None)
    return catalog


def test_a_catalog_without_replication_metadata_reads_incrementally_by_the_declared_key_with_a_warning(
    op, files, wp_catalog
):
    state = synced_state(files, wp_catalog)
    changed = op.store.ids("work_packages")[12]
    op.store.touch("work_packages", changed, at=CHANGED_AT)

    result = files.run(state=state, catalog=without_replication_metadata(wp_catalog))

    assert result.returncode == 0, result.stderr
    assert logged(result.stderr, "WARNING") == [
        f"catalog file {files.catalog}: work_packages has no replication key in the catalog: reading it incrementally "
        "by updatedAt, as the tap declares (set replication-method FULL_TABLE to read it in full; --discover writes "
        "both)"
    ]
    assert records(result.stdout, "work_packages") == [changed], "the bookmark is used, not silently ignored"
    assert last_state(result.stdout)["bookmarks"]["work_packages"]["replication_key_value"] == canonical(CHANGED_AT)


def test_full_table_in_the_catalog_reads_everything_and_says_the_bookmark_is_not_used(op, files, wp_catalog):
    state = synced_state(files, wp_catalog)
    assert state["bookmarks"]["work_packages"]["delivered_in_lookback"], "delivered versions to ignore"
    catalog = json.loads(json.dumps(wp_catalog))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "work_packages":
            entry["replication_method"] = "FULL_TABLE"

    result = files.run(state=state, catalog=catalog)

    assert result.returncode == 0, result.stderr
    assert logged(result.stderr, "WARNING") == [
        f"state file {files.state}: work_packages is FULL_TABLE in the catalog: its bookmark is not used (and kept "
        "unchanged); the stream is read in full"
    ]
    # Every record, including those of the bookmark's second that the boundary says were delivered before: a full
    # read that dropped them would let ACTIVATE_VERSION delete them downstream.
    assert sorted(records(result.stdout, "work_packages")) == op.store.ids("work_packages")
    # The run ends with the state (unchanged here), so `tail -n 1` of the output is always the next run's state.
    last = parse_messages(result.stdout)[-1]
    assert last["type"] == "STATE"
    assert last["value"]["bookmarks"]["work_packages"]["replication_key_value"] == (
        state["bookmarks"]["work_packages"]["replication_key_value"]
    )
