"""The state and catalog checks as pure functions (tap_openproject/inputs): shapes, normalisation, selection,
replication settings and the future-bookmark rule, without a server."""

from __future__ import annotations

import io

import pytest

from tap_openproject.bookmarks import DELIVERED
from tap_openproject.bookmarks import LEGACY_BOUNDARY as BOUNDARY
from tap_openproject.errors import EXIT_CONFIG, ConfigError
from tap_openproject.inputs import (
    Declared,
    Document,
    check_catalog,
    check_state,
    declarations,
    hold_back_future_bookmarks,
    prepare_inputs,
    read_document,
)
from tap_openproject.inputs.prepare import unused_bookmarks, with_parents
from tap_openproject.streams import STREAM_TYPES

DECLARED = {
    "work_packages": Declared("updatedAt", None),
    "activities": Declared(None, "work_packages"),
    "projects": Declared("updatedAt", None),
    "statuses": Declared(None, None),
}
START = "2026-01-01T00:00:00.000Z"


def state_of(value):
    return check_state(Document(value, "state file s.json"), DECLARED)


def catalog_of(*entries):
    return check_catalog(Document({"streams": list(entries)}, "catalog file c.json"), DECLARED)


def entry(name, *, selected=True, **extra):
    return {"tap_stream_id": name, "schema": {"properties": {"id": {}, "updatedAt": {}}},
            "metadata": [{"breadcrumb": [], "metadata": {"selected": selected}}], **extra}


def wp(value, **extra):
    return {"bookmarks": {"work_packages": {"replication_key": "updatedAt", "replication_key_value": value, **extra}}}


def test_declarations_come_from_the_stream_classes():
    declared = declarations(STREAM_TYPES)

    assert declared["work_packages"] == Declared("updatedAt", None)
    assert declared["activities"] == Declared(None, "work_packages")
    assert declared["statuses"] == Declared(None, None)
    assert {name for name, d in declared.items() if d.key} == {"projects", "work_packages", "memberships", "time_entries"}


# -- documents -------------------------------------------------------------------------------------------------------
def test_read_document_names_the_file_and_is_a_config_error():
    handle = io.StringIO("  \n")
    handle.name = "/srv/state.json"

    with pytest.raises(ConfigError) as raised:
        read_document(handle, "state")

    assert str(raised.value).startswith("state file /srv/state.json is empty: restore it")
    assert raised.value.exit_code == EXIT_CONFIG


def test_a_state_path_is_read_like_the_cli_reads_the_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\xff\xfe{")

    with pytest.raises(ConfigError, match=r"^state file .*state.json cannot be read \(UnicodeDecodeError\): restore"):
        prepare_inputs(str(path), None, STREAM_TYPES)


# -- state -----------------------------------------------------------------------------------------------------------
def test_meltano_and_state_message_wrappers_are_unwrapped_and_noted():
    inner = wp("2024-07-01T00:00:00.000Z")

    for wrapped, how in (({"singer_state": inner}, 'Meltano\'s "singer_state"'),
                         ({"type": "STATE", "value": inner}, "a STATE message"),
                         ({"type": "STATE", "value": {"singer_state": inner}},
                          'Meltano\'s "singer_state" inside a STATE message')):
        check = state_of(wrapped)
        assert check.state == inner
        assert check.notes == [f"state file s.json: read the bookmarks inside {how}"]


def test_bookmark_times_are_made_canonical_and_sdk_transients_dropped():
    value = wp("2024-07-01T12:00:00+02:00", progress_markers="junk", replication_key_signpost=5,
               partitions=[{"context": {"x": 1}}], starting_replication_value=[])

    checked = state_of(value).state["bookmarks"]["work_packages"]

    assert checked == {"replication_key": "updatedAt", "replication_key_value": "2024-07-01T10:00:00.000Z"}


def test_a_date_only_bookmark_is_midnight_utc():
    assert state_of(wp("2024-07-01")).state["bookmarks"]["work_packages"]["replication_key_value"] == (
        "2024-07-01T00:00:00.000Z"
    )


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_bookmark_is_no_bookmark(value):
    assert state_of(wp(value)).state == wp(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], r"expected a JSON object .* found a list"),
        (None, r"expected a JSON object .* found null"),
        ({"bookmarks": {"work_packages": []}}, r"bookmarks.work_packages must be an object, found a list"),
        (wp(1719792000), r"replication_key_value is not a timestamp \(1719792000\)"),
        (wp("2024-13-45"), r"replication_key_value is not a timestamp \('2024-13-45'\)"),
        ({"bookmarks": {"work_packages": {"replication_key": "updated_at", "replication_key_value": "2024-07-01"}}},
         r"has replication_key 'updated_at', but this tap bookmarks work_packages by updatedAt"),
        (wp("2024-07-01", **{BOUNDARY: {"second": "2024-07-01T00:00:00", "records": []}}),
         r'"records" must be an object, found a list; remove it'),
        (wp("2024-07-01", **{BOUNDARY: {"second": "2024-07-01T00:00:00", "records": {"1": 2}}}),
         r'"records" must map record ids to strings'),
        (wp("2024-07-01", deletions={"pending": "12"}), r"bookmarks.work_packages.deletions is damaged; remove it"),
        (wp("2024-07-01", deletions=[]), r"bookmarks.work_packages.deletions is damaged"),
    ],
)
def test_broken_states_are_config_errors_naming_the_place(value, message):
    with pytest.raises(ConfigError, match=r"^state file s.json: .*" + message):
        state_of(value)


def test_a_valid_boundary_and_deletion_state_pass_unchanged():
    boundary = {"second": "2024-07-01T00:00:00", "records": {"7": "2024-07-01T00:00:00.000Z|3"}}
    deletions = {"known_ids": "abc", "pending": [4, 2], "swept_at": START}
    value = wp("2024-07-01T00:00:00.000Z", **{BOUNDARY: boundary, "deletions": deletions})

    assert state_of(value).state == value


def test_unknown_stream_names_are_kept_and_warned_about_with_the_closest_name():
    check = state_of({"bookmarks": {"workpackages": {"x": 1}, "projects": {}}, "currently_syncing": None})

    assert check.state == {"bookmarks": {"workpackages": {"x": 1}, "projects": {}}}
    assert check.warnings == [
        "state file s.json: bookmarks for streams this tap does not have are ignored: workpackages (did you mean "
        "work_packages?)"
    ]


def test_unknown_streams_lose_only_what_the_sdk_would_trip_over():
    value = {"bookmarks": {"issues": {"progress_markers": "x", "partitions": "y", "a": 1},
                           "tickets": {"partitions": [{"context": {}, "progress_markers": 3, "b": 2}]}}}

    assert state_of(value).state == {"bookmarks": {"issues": {"a": 1},
                                                   "tickets": {"partitions": [{"context": {}, "b": 2}]}}}


def test_a_full_table_streams_own_keys_are_not_checked():
    value = {"bookmarks": {"statuses": {"replication_key_value": "whatever"}}}

    assert state_of(value).state == value


def test_an_empty_state_and_one_with_only_currently_syncing_mean_start_over():
    assert state_of({}).state == {}
    assert state_of({"currently_syncing": "work_packages"}).state == {}


# -- bookmarks in the future -----------------------------------------------------------------------------------------
def test_a_bookmark_beyond_the_tolerance_is_refused():
    state = wp("2026-01-01T00:05:01.000Z")

    with pytest.raises(ConfigError) as raised:
        hold_back_future_bookmarks(state, DECLARED, START, source="state file s.json")

    assert str(raised.value) == (
        "state file s.json: bookmark in the future: work_packages at 2026-01-01T00:05:01.000Z is 0:05:01 ahead of the "
        "sync's start (2026-01-01T00:00:00.000Z, by the server's clock); this state cannot come from a run against "
        "this server (copied from another instance, or written under a wrong clock): fix or remove the bookmark "
        "(without it the stream is read in full)"
    )


def test_a_bookmark_within_the_tolerance_is_moved_back_and_its_boundary_dropped():
    state = wp("2026-01-01T00:05:00.000Z", **{BOUNDARY: {"second": "2026-01-01T00:05:00", "records": {"1": "x"}},
                                               DELIVERED: {"1": "2026-01-01T00:05:00.000Z|3"}})

    warnings = hold_back_future_bookmarks(state, DECLARED, START, source="state file s.json")

    assert state == wp(START)
    assert warnings == [
        "state file s.json: the bookmark of work_packages (2026-01-01T00:05:00.000Z) is 0:05:00 ahead of the sync's "
        "start (2026-01-01T00:00:00.000Z), within the 5 minutes allowed for clock skew: starting from "
        "2026-01-01T00:00:00.000Z"
    ]


def test_bookmarks_at_or_before_the_start_and_of_other_streams_are_left_alone():
    state = {"bookmarks": {"work_packages": {"replication_key_value": START}, "statuses": {"x": "2099"},
                           "projects": {"replication_key_value": "2025-01-01T00:00:00.000Z"}}}
    before = repr(state)

    assert hold_back_future_bookmarks(state, DECLARED, START, source="s") == []
    assert repr(state) == before


def test_every_refused_bookmark_is_in_the_one_line():
    state = {"bookmarks": {"work_packages": {"replication_key_value": "2026-01-02T00:00:00.000Z"},
                           "projects": {"replication_key_value": "2026-01-03T00:00:00.000Z"}}}

    with pytest.raises(ConfigError, match=r"work_packages at 2026-01-02T00:00:00.000Z is 1 day, 0:00:00 ahead; "
                                          r"projects at 2026-01-03T00:00:00.000Z is 2 days, 0:00:00 ahead of the"):
        hold_back_future_bookmarks(state, DECLARED, START, source="s")


# -- catalog ---------------------------------------------------------------------------------------------------------
def test_selection_follows_the_sdk_rules():
    check = catalog_of(
        entry("work_packages"),
        entry("projects", selected=False),
        {"tap_stream_id": "statuses", "metadata": []},  # no metadata at all: selected, as the SDK reads it
        {"tap_stream_id": "activities",
         "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available", "selected-by-default": True}}]},
    )

    assert check.selected == {"work_packages", "statuses", "activities"}


def test_unknown_selected_streams_are_warned_about_and_unselected_ones_ignored():
    check = catalog_of(entry("work_packages"), entry("work_package"), entry("issues", selected=False))

    assert check.selected == {"work_packages"}
    assert check.warnings[0] == (
        "catalog file c.json: ignoring selected streams this tap does not have: work_package (did you mean "
        "work_packages?)"
    )


def test_a_missing_replication_key_falls_back_to_the_declared_one():
    check = catalog_of(entry("work_packages"))

    (settled,) = check.catalog["streams"]
    assert settled["replication_key"] == "updatedAt" and settled["replication_method"] == "INCREMENTAL"
    assert settled["metadata"][0]["metadata"]["replication-key"] == "updatedAt"
    assert check.full_table == frozenset()
    assert check.warnings == [
        "catalog file c.json: work_packages has no replication key in the catalog: reading it incrementally by "
        "updatedAt, as the tap declares (set replication-method FULL_TABLE to read it in full; --discover writes both)"
    ]


@pytest.mark.parametrize(
    "where",
    [{"replication_method": "FULL_TABLE"}, {"metadata": [{"breadcrumb": [], "metadata": {
        "selected": True, "replication-key": "updatedAt", "replication-method": "FULL_TABLE"}}]}],
    ids=["entry", "singer-metadata"],
)
def test_full_table_removes_the_replication_key_entirely(where):
    check = catalog_of({**entry("work_packages", replication_key="updatedAt"), **where})

    (settled,) = check.catalog["streams"]
    assert settled["replication_key"] is None and settled["replication_method"] == "FULL_TABLE"
    assert "replication-key" not in settled["metadata"][0]["metadata"]
    assert check.full_table == {"work_packages"} and check.warnings == []


def test_meltanos_replication_method_metadata_wins_over_the_discovered_entry():
    # meltano.yml `metadata: {work_packages: {replication-method: FULL_TABLE}}` on a discovered catalog
    discovered = entry("work_packages", replication_key="updatedAt", replication_method="INCREMENTAL")
    discovered["metadata"][0]["metadata"].update({"replication-key": "updatedAt", "replication-method": "FULL_TABLE"})

    check = catalog_of(discovered)

    assert check.catalog["streams"][0]["replication_method"] == "FULL_TABLE"
    assert check.catalog["streams"][0]["replication_key"] is None
    assert check.full_table == {"work_packages"}


def test_incremental_without_a_key_becomes_full_table_with_a_warning():
    check = catalog_of(entry("statuses", replication_method="INCREMENTAL"))

    assert check.catalog["streams"][0]["replication_method"] == "FULL_TABLE"
    assert check.warnings == [
        "catalog file c.json: statuses: INCREMENTAL is not possible without a replication key: read in full "
        "(FULL_TABLE)"
    ]


def test_the_input_catalog_is_not_modified():
    original = entry("work_packages")

    catalog_of(original)

    assert original == entry("work_packages")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("work_packages", selected=False)], r"c.json selects no stream \(no \"selected\": true"),
        ([entry("workpackages")], r"selects no stream of this tap, only unknown ones: workpackages \(did you mean"),
        ([entry("work_packages"), entry("work_packages")], r"stream work_packages is listed twice"),
        (["work_packages"], r"streams\[0\] must be an object, found a string"),
        ([{**entry("work_packages"), "metadata": {}}], r'stream work_packages: "metadata" must be a list'),
        ([{**entry("work_packages"), "schema": {"properties": []}}], r'"schema" "properties" must map names'),
        ([{"tap_stream_id": "work_packages", "metadata": [{"breadcrumb": None, "metadata": {}}]}],
         r'every "metadata" item needs a "breadcrumb" list'),
        ([entry("work_packages", replication_method="LOG_BASED")], r"replication method 'LOG_BASED' is not supported"),
        ([entry("work_packages", replication_method="full_table")], r"replication method 'full_table' is not supp"),
        ([entry("work_packages", replication_key="createdAt")], r"replication key 'createdAt' is not supported"),
        ([{**entry("work_packages", replication_key="updatedAt"), "metadata": [
            {"breadcrumb": [], "metadata": {"selected": True, "replication-key": "createdAt"}}]}],
         r"replication key 'createdAt' is not supported"),
        ([entry("statuses", replication_key="updatedAt")], r"statuses: the catalog sets replication key 'updatedAt', "
                                                           r"but this stream has none"),
    ],
)
def test_broken_catalogs_are_config_errors_naming_the_place(entries, message):
    with pytest.raises(ConfigError, match=message):
        catalog_of(*entries)


# -- state against catalog -------------------------------------------------------------------------------------------
def test_a_selected_child_syncs_its_parent():
    assert with_parents({"activities"}, DECLARED) == {"activities", "work_packages"}


def test_unused_bookmarks_name_unselected_and_full_table_streams():
    state = {"bookmarks": {"work_packages": {"replication_key_value": START},
                           "projects": {"replication_key_value": START}, "activities": {}}}

    assert unused_bookmarks(state, {"projects", "statuses"}, frozenset({"projects"}), DECLARED) == [
        "bookmarks for streams the catalog does not select are kept unchanged: work_packages",
        "projects is FULL_TABLE in the catalog: its bookmark is not used (and kept unchanged); the stream is read in "
        "full",
    ]


def test_only_streams_read_incrementally_are_checked_for_future_bookmarks():
    future = "2099-01-01T00:00:00.000Z"
    state = {"bookmarks": {"projects": {"replication_key": "updatedAt", "replication_key_value": future}}}
    inputs = prepare_inputs(state, {"streams": [entry("work_packages")]}, STREAM_TYPES)

    inputs.hold_back_future_bookmarks(inputs.state, START)  # projects is not selected: its bookmark is not used

    assert inputs.incremental == {"work_packages"}
    with pytest.raises(ConfigError, match="bookmark in the future: projects"):
        prepare_inputs(state, None, STREAM_TYPES).hold_back_future_bookmarks(state, START)


def test_an_incremental_stream_whose_schema_lost_its_replication_key_is_refused():
    with pytest.raises(ConfigError, match=r"work_packages: the replication key updatedAt is not in the stream's schema"):
        catalog_of({**entry("work_packages"), "schema": {"properties": {"id": {}}}})
    catalog_of({**entry("work_packages", replication_method="FULL_TABLE"), "schema": {"properties": {"id": {}}}})
    catalog_of({**entry("work_packages", selected=False), "schema": {"properties": {"id": {}}}}, entry("statuses"))
