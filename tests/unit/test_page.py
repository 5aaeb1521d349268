"""The one last-page rule, decided from an answer alone."""

from __future__ import annotations

from tap_openproject.paging import Page


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
