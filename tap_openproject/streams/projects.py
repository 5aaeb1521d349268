"""Projects and project-scoped collections: categories, memberships, versions, news, documents, meetings."""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATE, DATETIME, FORMATTABLE, INTEGER, NUMBER, STRING, RecordShape
from tap_openproject.paging import NumberedPages, ProjectRoutes, UpdatedAtKeyset
from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.shapes import LinkedShape

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ProjectsStream(OpenProjectStream):
    """Projects (and, on 17.x, programs and portfolios: see resource_type)."""

    name = "projects"
    path = "/projects"
    replication_key = "updatedAt"
    is_sorted = True
    check_sorted = False
    reader = UpdatedAtKeyset(optional=True)  # the updatedAt filter exists only on servers from late 2025 on
    project_filter = "id"
    shape = RecordShape(
        properties={
            "identifier": STRING,
            "name": STRING,
            "active": BOOLEAN,
            "public": BOOLEAN,
            "description": FORMATTABLE,
            "statusExplanation": FORMATTABLE,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("parent", "status"),
        string_id_links=frozenset({"status"}),
        multi_links=("ancestors",),
        custom_fields=True,
    )

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:  # noqa: ARG002
        """Categories exist only per project."""
        return {"project_id": record["id"]}


class CategoriesStream(OpenProjectStream):
    """Work package categories of each project."""

    name = "categories"
    path = "/projects/{project_id}/categories"
    parent_stream_type = ProjectsStream
    state_partitioning_keys: t.ClassVar[list[str]] = []  # type: ignore[misc]
    reader = NumberedPages(parallel=False)  # fetched ahead on the request pool (see paging/prefetch.py)
    shape = RecordShape(properties={"name": STRING}, links=("project", "defaultAssignee"))

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: an incremental run reads only the categories of the projects it delivers (see activities)."""
        return False


class MembershipsStream(OpenProjectStream):
    """Who has which roles in which project."""

    name = "memberships"
    path = "/memberships"
    replication_key = "updatedAt"
    is_sorted = True
    check_sorted = False
    reader = UpdatedAtKeyset()
    project_filter = "project"
    shape = LinkedShape(
        properties={"createdAt": DATETIME, "updatedAt": DATETIME},
        links=("project", "principal"),
        multi_links=("roles",),
        not_data_links=("schema",),  # /api/v3/memberships/schema
    )


class VersionsStream(OpenProjectStream):
    """Versions (milestones, sprints); unpaginated. With project_ids: the scoped projects' own routes, keeping
    the versions they define."""

    name = "versions"
    path = "/versions"
    reader = ProjectRoutes("/projects/{project_id}/versions")  # the collection itself has no project filter
    project_column = "definingProject_id"
    shape = LinkedShape(
        properties={
            "name": STRING,
            "description": FORMATTABLE,
            "startDate": DATE,
            "endDate": DATE,
            "status": STRING,
            "sharing": STRING,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("definingProject",),
        custom_fields=True,
        not_data_links=("schema",),  # /api/v3/versions/schema
    )


class NewsStream(OpenProjectStream):
    """Project news."""

    name = "news"
    path = "/news"
    project_filter = "project_id"
    shape = RecordShape(
        properties={"title": STRING, "summary": STRING, "description": FORMATTABLE, "createdAt": DATETIME},
        links=("project", "author"),
    )


class DocumentsStream(OpenProjectStream):
    """Project documents (metadata)."""

    name = "documents"
    path = "/documents"
    project_filter = "project_id"
    shape = RecordShape(
        properties={"title": STRING, "description": FORMATTABLE, "createdAt": DATETIME},
        links=("project",),
    )


class MeetingsStream(OpenProjectStream):
    """Meetings (and, per meeting, their sections and agenda items: see streams/meetings.py)."""

    name = "meetings"
    path = "/meetings"
    project_filter = "project_id"
    shape = RecordShape(
        properties={
            "title": STRING,
            "startTime": DATETIME,
            "endTime": DATETIME,
            "duration": NUMBER,
            "location": STRING,
            "lockVersion": INTEGER,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("project", "author"),
    )

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:  # noqa: ARG002
        """Sections and agenda items exist only per meeting."""
        return {"meeting_id": record["id"]}
