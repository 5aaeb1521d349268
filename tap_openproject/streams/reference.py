"""Reference data: statuses, types, priorities, roles (small, unpaginated collections), custom fields and the items
of hierarchy and weighted item list custom fields."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_openproject.hal import BOOLEAN, DATETIME, INTEGER, STRING, STRING_ARRAY, RecordShape
from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.children import ChildCollection

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class StatusesStream(OpenProjectStream):
    """Work package statuses; isClosed tells closed ones apart."""

    name = "statuses"
    path = "/statuses"
    shape = RecordShape(
        properties={
            "name": STRING,
            "category": {**STRING, "description": "The status category (17.x), e.g. to_do."},
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

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any] | None:  # noqa: ARG002
        """Hierarchy and weighted item list fields have an item tree; other fields have none (None)."""
        if record.get("field_format") == HIERARCHY_ITEM:
            return {"custom_field_id": record["id"]}
        return None

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        """Only fields with an item tree have children to read."""
        child = self.get_child_context(record, context)
        if child is not None:
            yield child


#: The schema type of hierarchy and weighted item list custom fields (their values link /custom_field_items/{id}).
HIERARCHY_ITEM = "CustomField::Hierarchy::Item"


@dataclass(frozen=True)
class _ItemShape(RecordShape):
    """Hierarchy item links carry the item's label as `name`, not `title`."""

    def flatten(self, element: dict[str, t.Any]) -> dict[str, t.Any]:
        """The flat item, `parent_title` from the parent link's name."""
        record = super().flatten(element)
        parent = (element.get("_links") or {}).get("parent")
        if isinstance(parent, dict) and record.get("parent_id") is not None:
            record["parent_title"] = parent.get("title") or parent.get("name")
        return record


class CustomFieldItemsStream(ChildCollection):
    """The items of every hierarchy and weighted item list custom field, depth first, the (unlabelled) root
    first: label, short name or weight, depth, parent and children."""

    name = "custom_field_items"
    path = "/custom_fields/{custom_field_id}/items"
    parent_stream_type = CustomFieldsStream
    parent_path = "/custom_fields/{custom_field_id}"
    context_columns = ("custom_field_id",)
    shape = _ItemShape(
        properties={
            "label": STRING,
            "short": STRING,
            "weight": {**STRING, "description": "A decimal, as a string (no precision lost)."},
            "formattedWeight": STRING,
            "depth": INTEGER,
        },
        links=("parent",),
        multi_links=("children",),
        extra={"custom_field_id": {**INTEGER, "description": "The custom field the item belongs to."}},
    )
