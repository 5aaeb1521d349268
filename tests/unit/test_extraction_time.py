"""time_extracted of RECORD messages: the form msgspec gives the SDK's utc_now(), formatted once per second."""

from __future__ import annotations

import datetime as dt

import msgspec

from tap_openproject.timeutil import ExtractionTime


def test_is_the_form_msgspec_gives_an_aware_utc_datetime():
    moments = iter([1_700_000_000_123_456_789, 1_700_000_000_999_999_999, 1_700_000_001_000_001_000])
    extracted = ExtractionTime(lambda: next(moments))

    assert [extracted(), extracted(), extracted()] == [
        "2023-11-14T22:13:20.123456Z",
        "2023-11-14T22:13:20.999999Z",
        "2023-11-14T22:13:21.000001Z",  # the next second: formatted anew
    ]
    moment = dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.timezone.utc)
    assert msgspec.json.encode(moment) == b'"2023-11-14T22:13:20.123456Z"'


def test_a_whole_second_keeps_its_fraction_and_the_clock_is_the_real_one():
    assert ExtractionTime(lambda: 1_700_000_000_000_000_000)() == "2023-11-14T22:13:20.000000Z"
    before = dt.datetime.now(dt.timezone.utc)
    now = dt.datetime.fromisoformat(ExtractionTime()().replace("Z", "+00:00"))
    after = dt.datetime.now(dt.timezone.utc)
    assert before - dt.timedelta(microseconds=1) <= now <= after
