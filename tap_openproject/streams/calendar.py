"""The instance's work calendar: one-time non-working days (holidays) and the working week.

Neither resource has an integer id (a non-working day is keyed by its date, a week day by its number 1-7); the
records carry an integer `id` too (the date as YYYYMMDD, the day number), so that every table of the tap has one.
"""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATE, INTEGER, STRING, RecordShape
from tap_openproject.streams.base import OpenProjectStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.streams.base import Record

#: The dates asked for. Without a `date` filter (or with an open bound) the server returns the current year only,
#: so every request names both bounds: a window wider than any calendar an instance plausibly holds.
NON_WORKING_DAYS_FROM = "1970-01-01"
NON_WORKING_DAYS_TO = "2099-12-31"


class NonWorkingDaysStream(OpenProjectStream):
    """One-time non-working days (holidays, company days off) from 1970 through 2099; weekends are week_days."""

    name = "non_working_days"
    path = "/days/non_working"
    primary_keys: t.ClassVar[tuple[str, ...]] = ("date",)  # type: ignore[misc]
    element_key = "date"
    shape = RecordShape(properties={"date": DATE, "name": STRING})

    @classmethod
    def scope_filters(cls, project_ids: t.Sequence[int]) -> list[dict[str, t.Any]]:  # noqa: ARG003
        """The date window (the calendar is instance-wide: project_ids do not narrow it)."""
        return [{"date": {"operator": "<>d", "values": [NON_WORKING_DAYS_FROM, NON_WORKING_DAYS_TO]}}]

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """`id` is the date as a number (2025-12-25 -> 20251225)."""
        date = row.get("date")
        row["id"] = int(date.replace("-", "")) if isinstance(date, str) else None
        return super().post_process(row, context)


class WeekDaysStream(OpenProjectStream):
    """The seven week days (1 = Monday ... 7 = Sunday) and whether each is a working day."""

    name = "week_days"
    path = "/days/week"
    primary_keys: t.ClassVar[tuple[str, ...]] = ("day",)  # type: ignore[misc]
    element_key = "day"
    shape = RecordShape(properties={"day": INTEGER, "name": STRING, "working": BOOLEAN})

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """`id` is the day number."""
        row["id"] = row.get("day")
        return super().post_process(row, context)
