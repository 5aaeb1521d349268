"""Time-window planning for parallel incremental reads: a pure function of rank probes."""

from __future__ import annotations

from tap_openproject.paging.windows import plan_windows, probe_ranks


def test_ranks_are_a_tenth_of_a_page_short_of_a_page_apart_and_end_at_the_total():
    assert probe_ranks(total=3000, page_size=1000) == [1900, 2800, 3000]
    assert probe_ranks(total=1500, page_size=1000) == [1500]
    assert probe_ranks(total=30, page_size=10) == [19, 28, 30]


def test_tiny_pages_still_step_forward():
    assert probe_ranks(total=5, page_size=1) == [2, 3, 4, 5]


def test_windows_share_their_boundary_second():
    probes = ["2024-01-02T00:00:00", "2024-01-03T00:00:00", "2024-01-04T00:00:00"]
    assert plan_windows("2024-01-01T00:00:00", probes) == [
        ("2024-01-01T00:00:00", "2024-01-02T00:00:00"),
        ("2024-01-02T00:00:00", "2024-01-03T00:00:00"),
        ("2024-01-03T00:00:00", "2024-01-04T00:00:00"),
    ]


def test_probes_that_found_nothing_or_did_not_move_forward_are_skipped():
    probes = [None, "2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00", None]
    assert plan_windows("2024-01-01T00:00:00", probes) == [("2024-01-01T00:00:00", "2024-01-02T00:00:00")]


def test_records_that_moved_behind_the_reached_second_plan_no_window():
    assert plan_windows("2024-05-01T00:00:00", ["2024-04-01T00:00:00"]) == []


def test_windows_can_be_shorter_than_a_page():
    """With 8 threads and memory for 4 pages, windows of half a page: twice the probes, the same first page."""
    assert probe_ranks(total=3000, page_size=1000, span=500) == [1450, 1900, 2350, 2800, 3000]
    assert probe_ranks(total=3000, page_size=1000, span=1000) == probe_ranks(total=3000, page_size=1000)
