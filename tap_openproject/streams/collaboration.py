"""Who follows a work package and which files it links: watchers and file links, per delivered work package."""

from __future__ import annotations

import typing as t

from tap_openproject.hal import DATETIME, INTEGER, STRING, RecordShape
from tap_openproject.streams.children import ChildCollection
from tap_openproject.streams.people import USER_PROPERTIES
from tap_openproject.streams.work import WorkPackagesStream

WORK_PACKAGE_ID = {**INTEGER, "description": "The work package this record belongs to."}


class _DeliveredWorkPackageChild(ChildCollection):
    """Read for each work package the work_packages stream delivers (an incremental run: the changed ones)."""

    parent_stream_type = WorkPackagesStream
    parent_path = "/work_packages/{work_package_id}"
    context_columns = ("work_package_id",)


class WatchersStream(_DeliveredWorkPackageChild):
    """The users watching each work package: one row per (work package, user), each a User element (what the
    token may see of it) as the users stream has it."""

    name = "watchers"
    path = "/work_packages/{work_package_id}/watchers"
    primary_keys: t.ClassVar[tuple[str, ...]] = ("work_package_id", "id")  # type: ignore[misc]
    shape = RecordShape(
        properties=USER_PROPERTIES,
        extra={"work_package_id": WORK_PACKAGE_ID},
    )


class FileLinksStream(_DeliveredWorkPackageChild):
    """Files in external storages (Nextcloud, OneDrive/SharePoint ...) linked to each work package."""

    name = "file_links"
    path = "/work_packages/{work_package_id}/file_links"
    shape = RecordShape(
        properties={
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
            "originData": {
                "type": ["object", "null"],
                "description": "The file as its storage describes it (id and times are the storage's).",
                "properties": {
                    "id": STRING,
                    "name": STRING,
                    "mimeType": STRING,
                    "size": INTEGER,
                    "createdAt": DATETIME,
                    "lastModifiedAt": DATETIME,
                    "createdByName": STRING,
                    "lastModifiedByName": STRING,
                },
            },
        },
        links=("storage", "container", "creator", "status"),
        string_id_links=frozenset({"status"}),  # the user's permission on the file, an urn
        extra={"work_package_id": WORK_PACKAGE_ID},
    )
