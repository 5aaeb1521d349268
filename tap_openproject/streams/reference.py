"""Reference data: statuses, types, priorities, roles (small, unpaginated collections), custom fields."""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATETIME, INTEGER, STRING, STRING_ARRAY, RecordShape
from tap_openproject.streams.base import OpenProjectStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class StatusesStream(OpenProjectStream):
    """Work package statuses; isClosed tells closed ones apart."""

    name = "statuses"
    path = "/statuses"
    shape = RecordShape(
        properties={
            "name": STRING,
            "isClosed": BOOLEAN,
            "color": STRING,
            "isDefault": BOOLEAN,
            "isReadonly": BOOLEAN,
            "excludedFromTotals": BOOLEAN,
            "defaultDoneRatio": INTEGER,
            "position": INTEGER,
        }
    )


class TypesStream(OpenProjectStream):
    """Work package types (a variant has its own name, `ownName`, and links its root type as `parent`)."""

    name = "types"
    path = "/types"
    shape = RecordShape(
        properties={
            "name": STRING,
            "ownName": STRING,
            "color": STRING,
            "position": INTEGER,
            "isDefault": BOOLEAN,
            "isMilestone": BOOLEAN,
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        },
        links=("parent",),  # a variant's root type
    )


class PrioritiesStream(OpenProjectStream):
    """Work package priorities."""

    name = "priorities"
    path = "/priorities"
    shape = RecordShape(
        properties={
            "name": STRING,
            "position": INTEGER,
            "color": STRING,
            "isDefault": BOOLEAN,
            "isActive": BOOLEAN,
        }
    )


class RolesStream(OpenProjectStream):
    """Roles (project and global)."""

    name = "roles"
    path = "/roles"
    shape = RecordShape(properties={"name": STRING})


class CustomFieldsStream(OpenProjectStream):
    """Every custom field of the instance (from its schemas): id N, name, format, multi-value, resources."""

    name = "custom_fields"
    path = "/work_packages/schemas"
    shape = RecordShape(
        properties={
            "key": STRING,
            "name": STRING,
            "field_format": STRING,
            "multi_value": BOOLEAN,
            "linked": BOOLEAN,
            "resources": STRING_ARRAY,
        },
        unmapped=False,  # rows composed by the tap from the schemas, not API elements
    )

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:  # noqa: ARG002
        """Rows from the schemas read at discovery; no further requests."""
        for row in self.run.custom_fields.records():
            yield {**row, "resource_type": "CustomField"}
