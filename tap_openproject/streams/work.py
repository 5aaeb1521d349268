"""Work packages and what hangs off them: activities (journals), attachments, relations, time entries."""

from __future__ import annotations

import typing as t

from tap_openproject.deletions import DELETED_AT, DeletionDetector
from tap_openproject.hal import BOOLEAN, DATE, DATETIME, DURATION, FORMATTABLE, INTEGER, STRING, RecordShape
from tap_openproject.paging import NumberedPages, UpdatedAtKeyset
from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.shapes import LinkedShape

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class WorkPackagesStream(OpenProjectStream):
    """All work packages, open and closed (the request always carries `filters`)."""

    name = "work_packages"
    path = "/work_packages"
    replication_key = "updatedAt"
    is_sorted = True
    check_sorted = False  # the bookmark is kept monotonic by BookmarkPolicy.advance
    reader = UpdatedAtKeyset()
    always_send_filters = True
    project_filter = "project"
    shape = RecordShape(
        properties={
            "lockVersion": INTEGER,
            "subject": STRING,
            "description": FORMATTABLE,
            "scheduleManually": BOOLEAN,
            "startDate": DATE,
            "dueDate": DATE,
            "date": DATE,
            "derivedStartDate": DATE,
            "derivedDueDate": DATE,
            "duration": DURATION,
            "estimatedTime": DURATION,
            "derivedEstimatedTime": DURATION,
            "remainingTime": DURATION,
            "derivedRemainingTime": DURATION,
            "spentTime": DURATION,
            "ignoreNonWorkingDays": BOOLEAN,
            "position": INTEGER,
            "storyPoints": INTEGER,
            "percentageDone": INTEGER,
            "derivedPercentageDone": INTEGER,
            "readonly": BOOLEAN,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=(
            "project",
            "type",
            "status",
            "priority",
            "author",
            "assignee",
            "responsible",
            "version",
            "category",
            "budget",
            "parent",
            # 17.x (the work package schema lists them; older servers leave them out: the columns stay null)
            "sprint",
            "projectPhase",
            "projectPhaseDefinition",
        ),
        multi_links=("ancestors", "children", "targetVersions", "allocatedPrincipals"),
        custom_fields=True,
        extra={DELETED_AT: {**DATETIME, "description": "Set only on the record of a deleted work package."}},
    )

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Changed work packages; with detect_deletions, then one `{id, _sdc_deleted_at}` per deleted one."""
        if not (self.run.settings.detect_deletions and self.selected):  # unselected: records are not written
            yield from super().get_records(context)
            return
        delivered: set[int] = set()
        for record in super().get_records(context):
            delivered.add(record["id"])
            yield record
        if self.name not in self.run.unavailable:
            detector = DeletionDetector(self.run.pager, self.query(context))
            yield from detector.tombstones(self.get_context_state(context), delivered)

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:  # noqa: ARG002
        """Activities and attachments are fetched per delivered work package."""
        return {"work_package_id": record["id"]}

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        """A deleted work package has no activities or attachments left to read."""
        if record.get(DELETED_AT) is None:
            yield from super().generate_child_contexts(record, context)


class _WorkPackageChild(OpenProjectStream):
    """A per-work-package collection (there is no global list)."""

    parent_stream_type = WorkPackagesStream
    # One bookmark for the whole stream, not one per work package: per-parent state grows quadratically.
    state_partitioning_keys: t.ClassVar[list[str]] = []  # type: ignore[misc]
    reader = NumberedPages(parallel=False)  # fetched ahead on the request pool (see paging/prefetch.py)

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: a run reads only the children of the work packages it delivers, so activating a new table
        version would retire the children of every other work package."""
        return False


class ActivitiesStream(_WorkPackageChild):
    """Journals of each work package (comments and change details), unpaginated per work package."""

    name = "activities"
    path = "/work_packages/{work_package_id}/activities"
    shape = RecordShape(
        properties={
            "version": INTEGER,
            "comment": FORMATTABLE,
            "details": {"type": ["array", "null"], "items": FORMATTABLE},
            "internal": BOOLEAN,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("workPackage", "user"),
    )


class AttachmentsStream(_WorkPackageChild):
    """Attachment metadata of each work package (not the file contents)."""

    name = "attachments"
    path = "/work_packages/{work_package_id}/attachments"
    shape = RecordShape(
        properties={
            "title": STRING,
            "fileName": STRING,
            "fileSize": INTEGER,
            "description": FORMATTABLE,
            "contentType": STRING,
            "digest": {"type": ["object", "null"], "properties": {"algorithm": STRING, "hash": STRING}},
            "status": STRING,
            "createdAt": DATETIME,
        },
        links=("container", "author"),
        aliases={"fileSize": ("filesize",)},  # the API spec's example spells it `filesize`
    )


class RelationsStream(OpenProjectStream):
    """Relations between work packages (follows, blocks, relates ...)."""

    name = "relations"
    path = "/relations"
    shape = RecordShape(
        properties={
            "name": STRING,
            "type": STRING,
            "reverseType": STRING,
            "description": STRING,
            "lag": INTEGER,
            "delay": INTEGER,
        },
        links=("from", "to"),
    )


class TimeEntriesStream(OpenProjectStream):
    """Logged time; `hours` is an ISO 8601 duration."""

    name = "time_entries"
    path = "/time_entries"
    replication_key = "updatedAt"
    is_sorted = True
    check_sorted = False
    reader = UpdatedAtKeyset()
    project_filter = "project"
    shape = LinkedShape(
        properties={
            "comment": FORMATTABLE,
            "spentOn": DATE,
            "hours": DURATION,
            "ongoing": BOOLEAN,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("project", "workPackage", "user", "activity"),
        custom_fields=True,
        not_data_links=("schema",),  # /api/v3/time_entries/schema
    )
