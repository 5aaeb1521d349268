"""Configuration: saved work package queries, views, attribute help texts, time entry activities.

Facts from the API spec (opf/openproject docs/api/apiv3): paths/queries.yml, views.yml, help_texts.yml,
time_entry_activity.yml and components/schemas/query_model.yml, help_text_model.yml,
time_entry_activity_model.yml. Queries filter on updated_at but cannot be sorted by it: every stream here is
FULL_TABLE.
"""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATETIME, FORMATTABLE, INTEGER, STRING, STRING_ARRAY, RecordShape, link_id
from tap_openproject.paging.per_project import LinkedResources, WithGlobal
from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.shapes import LinkedShape

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.paging import Query

_TIMESTAMPS = {"createdAt": DATETIME, "updatedAt": DATETIME}


class QueriesStream(OpenProjectStream):
    """Saved work package queries (unpaginated): each query's own settings, never the work packages the server
    embeds as its results. With project_ids: the scoped projects' queries and the global ones. `columns_ids`,
    `sortBy_ids` and `highlightedAttributes_ids` are the string ids of those links (`subject`, `parent-desc`);
    `groupBy_id` likewise. `filters` keeps the filter objects as sent."""

    name = "queries"
    path = "/queries"
    project_filter = "project"
    reader = WithGlobal("project")
    shape = LinkedShape(
        properties={
            "name": STRING,
            "filters": {"type": ["array", "null"], "items": {"type": "object"}},
            "sums": BOOLEAN,
            "public": BOOLEAN,
            "starred": BOOLEAN,
            "hidden": BOOLEAN,
            "includeSubprojects": BOOLEAN,
            "showHierarchies": BOOLEAN,
            "timelineVisible": BOOLEAN,
            "timelineZoomLevel": STRING,
            "timelineLabels": {"type": ["object", "null"]},
            "highlightingMode": STRING,
            "timestamps": STRING_ARRAY,
            "projections": {
                "type": ["array", "null"],
                "items": {"type": "object"},
                "description": "The query's projections (table, Gantt, team planner, calendar) as sent.",
            },
            **_TIMESTAMPS,
        },
        links=("project", "user", "groupBy"),
        string_id_links=frozenset({"groupBy"}),
        string_multi_links=("columns", "sortBy", "highlightedAttributes"),
    )


class ViewsStream(OpenProjectStream):
    """Views (work package table, team planner, Gantt, boards ...) over saved queries; `resource_type` tells the
    kind (`Views::WorkPackagesTable`). With project_ids: the scoped projects' views and the global ones. A work
    package table view may carry `timelineVisible` and `columns_ids` (the string ids of its `columns` links)."""

    name = "views"
    path = "/views"
    project_filter = "project"
    reader = WithGlobal("project")
    shape = LinkedShape(
        properties={"name": STRING, "public": BOOLEAN, "starred": BOOLEAN, "timelineVisible": BOOLEAN, **_TIMESTAMPS},
        links=("query", "project"),
        string_multi_links=("columns",),
    )


class HelpTextsStream(OpenProjectStream):
    """Attribute help texts (per attribute and scope, e.g. WorkPackage status)."""

    name = "help_texts"
    path = "/help_texts"
    shape = RecordShape(
        properties={"attribute": STRING, "attributeCaption": STRING, "scope": STRING, "helpText": FORMATTABLE}
    )


class TimeEntryActivitiesStream(OpenProjectStream):
    """Time entry activities. The API has no list of them, only /time_entries/activities/{id}: the activities
    the time entries link, each read once. This sweeps every time entry (of the scoped projects with
    project_ids) each run; an activity no time entry uses is not found."""

    name = "time_entry_activities"
    path = "/time_entries/activities/{id}"
    project_filter = "project"  # applies to the time entries swept
    reader = LinkedResources(
        source="/time_entries", link="activity", target="/time_entries/activities/{id}", id_of=link_id
    )
    shape = RecordShape(
        properties={"name": STRING, "position": INTEGER, "default": BOOLEAN},
        multi_links=("projects",),
    )

    def query(self, context: Context | None) -> Query:
        """The route stays a template: the reader fills it for each activity."""
        return super().query({**(context or {}), "id": "{id}"})
