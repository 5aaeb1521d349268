"""The one last-page rule (never `total` alone over a full page), and the keys every element must carry."""

from __future__ import annotations

import pytest

from tap_openproject.errors import SyncError
from tap_openproject.paging import Page
from tap_openproject.paging.page import Pager, Query, require_keys


def page(count: int, *, total: int | None, page_size: int | None, offset: int = 1) -> Page:
    return Page(elements=[{"id": i} for i in range(count)], total=total, page_size=page_size, offset=offset)


def test_an_unpaginated_collection_is_complete_in_one_answer():
    assert page(500, total=500, page_size=None).is_last


def test_an_empty_page_is_the_last():
    assert page(0, total=0, page_size=100).is_last


def test_a_short_page_is_the_last():
    assert page(40, total=None, page_size=100).is_last


def test_a_full_page_before_the_total_is_not_the_last():
    assert not page(100, total=250, page_size=100, offset=2).is_last


def test_a_page_size_learnt_elsewhere_applies_to_an_answer_without_one():
    answer = page(1000, total=2500, page_size=None)
    assert answer.is_last  # without a page size it looks unpaginated
    assert not answer.sized(1000).is_last


def test_a_full_page_is_never_the_last_on_total_alone():
    # The total says this was everything; a row created between COUNT and SELECT, or a proxy rewriting bodies,
    # may have made it undercount, so one more request decides (it comes back empty when the total was right).
    assert not page(100, total=100, page_size=100).is_last
    assert not page(100, total=130, page_size=100, offset=2).is_last
    assert not page(100, total=0, page_size=100, offset=3).is_last


def test_a_short_or_empty_page_ends_whatever_the_total_says():
    assert page(99, total=10_000, page_size=100, offset=2).is_last
    assert page(0, total=10_000, page_size=100, offset=7).is_last


def test_a_page_past_its_own_total_shows_that_the_total_undercounts():
    assert page(100, total=130, page_size=100, offset=2).overruns_total
    assert page(1, total=100, page_size=100, offset=2).overruns_total
    assert not page(30, total=130, page_size=100, offset=2).overruns_total
    assert not page(0, total=100, page_size=100, offset=2).overruns_total
    assert not page(500, total=400, page_size=None).overruns_total, "an unpaginated answer has no pages to overrun"


def keyed(elements: list[dict[str, object]], offset: int = 2) -> Page:
    return Page(elements=elements, total=None, page_size=10, offset=offset)


def refusal(elements: list[dict[str, object]], keys: tuple[str, ...]) -> str:
    with pytest.raises(SyncError) as raised:
        require_keys(keyed(elements), "work_packages", "/api/v3/work_packages", keys)
    return str(raised.value)


GOOD = {"id": 1, "updatedAt": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize("id_value", [None, "3", 3.0, True])
def test_an_element_without_an_integer_id_is_refused_with_its_place(id_value):
    message = refusal([GOOD, GOOD, {**GOOD, "id": id_value}], ("id",))
    assert message == (
        "work_packages: GET /api/v3/work_packages returned an element without an integer id (element 3 of page 2): "
        "refusing to deliver a record without a key; check the server or a proxy rewriting bodies"
    )


def test_an_element_without_its_id_at_all_is_refused():
    assert "element 1 of page 2" in refusal([{"updatedAt": GOOD["updatedAt"]}], ("id",))


@pytest.mark.parametrize("stamp", [None, "", "yesterday", 1_767_225_600])
def test_an_incremental_element_needs_a_parseable_replication_key(stamp):
    message = refusal([GOOD, {"id": 2, "updatedAt": stamp}], ("id", "updatedAt"))
    assert "returned an element without a valid updatedAt (element 2 of page 2)" in message


def test_elements_with_their_keys_pass():
    require_keys(keyed([GOOD, {"id": 2, "updatedAt": "2026-01-01T00:00:00.123Z"}]), "x", "/x", ("id", "updatedAt"))
    require_keys(keyed([{"id": "12-1"}]), "x", "/x", ())  # schema ids are no integers: nothing required


def test_a_resource_without_an_id_needs_its_natural_key():
    """Non-working days are keyed by their date, week days by their number: an element without it is refused."""
    require_keys(keyed([{"date": "2025-12-25", "name": "Christmas"}, {"day": 1}]), "x", "/x", ())
    require_keys(keyed([{"date": "2025-12-25"}]), "non_working_days", "/api/v3/days/non_working", ("date",))
    require_keys(keyed([{"day": 7}]), "week_days", "/api/v3/days/week", ("day",))
    with pytest.raises(SyncError, match=r"without a valid date \(element 2 of page 2\)"):
        require_keys(keyed([{"date": "2025-12-25"}, {"name": "?"}]), "non_working_days", "/d", ("date",))
    with pytest.raises(SyncError, match=r"without a valid day \(element 1 of page 2\)"):
        require_keys(keyed([{"day": None}]), "week_days", "/w", ("day",))


def pager(concurrency: int) -> Pager:
    return Pager(None, page_size=1000, concurrency=concurrency, pool=lambda: None, stats=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("server_s", "records_s", "concurrency", "depth"),
    [
        (0.010, 0.050, 8, 1),  # the server answers a page faster than the tap uses it: one request ahead only
        (0.100, 0.050, 8, 1),  # as fast as the tap (records_s is about half the tap's time on a page)
        (0.101, 0.050, 8, 3),  # slower than the tap: windows, enough requests to hide it
        (0.150, 0.050, 8, 3),
        (1.030, 0.050, 8, 8),  # a slow server (30 ms + 1 ms per record): every thread
        (1.030, 0.050, 2, 2),  # never more than max_concurrency
        (1.030, 0.050, 1, 1),
        (0.500, 0.0, 8, 8),  # unmeasured (a test's clock): max_concurrency
    ],
)
def test_requests_in_flight_follow_how_fast_the_server_answers(server_s, records_s, concurrency, depth):
    assert pager(concurrency).depth_for(server_s, records_s) == depth


def test_windows_hold_four_pages_across_the_requests_in_flight():
    assert pager(8).window_span(1000) == 500  # max_concurrency by default
    assert pager(8).window_span(1000, depth=2) == 2000  # two pages each: half the probes
    assert pager(8).window_span(1000, depth=8) == 500
    assert pager(8).window_span(1, depth=8) == 1


def test_a_consumed_page_lets_each_element_go_once_it_is_flattened():
    """Sequential readers take a page's records one at a time: each element is released as soon as its record is
    made, so a page's objects are freed as they are used, not held until its last record (README, Performance)."""
    page = Page(elements=[{"id": 1}, {"id": 2}, {"id": 3}], total=3, page_size=3, offset=1)
    query = Query(label="statuses", path="/statuses", flatten=lambda element: {"id": element["id"], "flat": True})

    records = query.consume(page)

    assert next(records) == {"id": 1, "flat": True}
    assert page.elements == [None, {"id": 2}, {"id": 3}]
    assert list(records) == [{"id": 2, "flat": True}, {"id": 3, "flat": True}]
    assert page.elements == [None, None, None]
    assert not page.is_last  # a full page: its length still says so after it was consumed


def test_a_keyset_page_drops_what_the_page_before_yielded_and_keeps_its_last_second():
    """A keyset page starts at the second the page before ended in: only records of that second can come again
    (the versions the page before kept), and the page keeps the versions of its own last second for the next."""
    from tap_openproject.paging.keyset import _past_overlap

    def wp(ident: int, at: str, lock: int = 0) -> dict:
        return {"id": ident, "updatedAt": f"2025-01-01T{at}.000Z", "lockVersion": lock}

    seen = {7: "2025-01-01T10:00:00.000Z|0", 8: "2025-01-01T10:00:00.000Z|0"}
    page = [wp(7, "10:00:00"), wp(8, "10:00:00", lock=1), wp(9, "10:00:01"), wp(10, "10:00:02"), wp(11, "10:00:02")]

    reading = _past_overlap(iter(page), seen, "2025-01-01T10:00:00", "2025-01-01T10:00:02", "updatedAt")
    delivered = []
    try:
        while True:
            delivered.append(next(reading)["id"])
    except StopIteration as done:
        kept = done.value

    assert delivered == [8, 9, 10, 11]  # 7 came in the page before; 8 is a new version (saved again)
    assert kept == {10: "2025-01-01T10:00:02.000Z|0", 11: "2025-01-01T10:00:02.000Z|0"}
