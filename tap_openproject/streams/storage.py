"""File storages (Nextcloud, OneDrive/SharePoint) and the projects they are enabled in.

Facts from the API spec (opf/openproject docs/api/apiv3): paths/storages.yml, project_storages.yml,
components/schemas/storage_read_model.yml, project_storage_model.yml. Both lists are unpaginated and neither sorts
on updatedAt: FULL_TABLE.
"""

from __future__ import annotations

from tap_openproject.hal import BOOLEAN, DATETIME, STRING
from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.shapes import LinkedShape

_TIMESTAMPS = {"createdAt": DATETIME, "updatedAt": DATETIME}


class StoragesStream(OpenProjectStream):
    """The instance's file storages. `type_id` and `authorizationState_id` are urns
    (`urn:openproject-org:api:v3:storages:Nextcloud`); `origin_href` is the storage's web address."""

    name = "storages"
    path = "/storages"
    shape = LinkedShape(
        properties={
            "name": STRING,
            "tenantId": STRING,
            "driveId": STRING,
            "hasApplicationPassword": BOOLEAN,
            "configured": BOOLEAN,
            **_TIMESTAMPS,
        },
        # The OAuth application and client credentials (shown to admins only).
        links=("type", "authorizationState", "oauthApplication", "oauthClientCredentials"),
        string_id_links=frozenset({"type", "authorizationState"}),
        href_links=("origin",),
    )


class ProjectStoragesStream(OpenProjectStream):
    """Which storage is enabled in which project, and its project folder mode."""

    name = "project_storages"
    path = "/project_storages"
    project_filter = "project_id"
    shape = LinkedShape(
        properties={"projectFolderMode": STRING, **_TIMESTAMPS},
        links=("project", "storage", "creator"),
        href_links=("projectFolder",),
    )
