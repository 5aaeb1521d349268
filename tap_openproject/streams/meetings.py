"""What a meeting holds, per meeting: its sections, its agenda items and each agenda item's outcomes.

The API lists sections and agenda items per meeting (`/meetings/{id}/sections`, `/meetings/{id}/agenda_items`)
and outcomes per agenda item (`/meetings/{id}/agenda_items/{id}/outcomes`); none has a global list or filters,
so each is a child stream read in full for every meeting the meetings stream delivers.
"""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATETIME, FORMATTABLE, INTEGER, STRING, RecordShape
from tap_openproject.streams.children import ChildCollection
from tap_openproject.streams.projects import MeetingsStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.streams.base import Record


class MeetingSectionsStream(ChildCollection):
    """The sections of each meeting, the read-only backlog section last."""

    name = "meeting_sections"
    path = "/meetings/{meeting_id}/sections"
    parent_stream_type = MeetingsStream
    parent_path = "/meetings/{meeting_id}"
    shape = RecordShape(
        properties={
            "title": STRING,
            "position": INTEGER,
            "backlog": BOOLEAN,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("meeting",),
    )

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._delivered: set[int] = set()

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Each section once: the backlog of a recurring series is listed under every occurrence (its meeting
        link names the series template)."""
        if row["id"] in self._delivered:
            return None
        self._delivered.add(row["id"])
        return super().post_process(row, context)


class MeetingAgendaItemsStream(ChildCollection):
    """The agenda items of each meeting, with the section they belong to (section_id, section_title)."""

    name = "meeting_agenda_items"
    path = "/meetings/{meeting_id}/agenda_items"
    parent_stream_type = MeetingsStream
    parent_path = "/meetings/{meeting_id}"
    shape = RecordShape(
        properties={
            "title": STRING,
            "notes": FORMATTABLE,
            "position": INTEGER,
            "durationInMinutes": INTEGER,
            "itemType": STRING,
            "lockVersion": INTEGER,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("meeting", "section", "author", "presenter", "workPackage"),
    )

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """Outcomes are listed per agenda item of a meeting."""
        return {"meeting_id": (context or {}).get("meeting_id"), "agenda_item_id": record["id"]}


class MeetingOutcomesStream(ChildCollection):
    """The outcomes of each agenda item (information notes, or a work package decided on)."""

    name = "meeting_outcomes"
    path = "/meetings/{meeting_id}/agenda_items/{agenda_item_id}/outcomes"
    parent_stream_type = MeetingAgendaItemsStream
    parent_path = "/meetings/{meeting_id}/agenda_items/{agenda_item_id}"
    context_columns = ("meeting_id",)
    shape = RecordShape(
        properties={"kind": STRING, "notes": FORMATTABLE, "createdAt": DATETIME, "updatedAt": DATETIME},
        links=("agendaItem", "author", "workPackage"),
        extra={"meeting_id": {**INTEGER, "description": "The meeting of the agenda item."}},
    )
