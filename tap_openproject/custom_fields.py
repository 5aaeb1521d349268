"""Custom fields: discovered from the instance's schemas, typed into the catalog, listed in their own stream.

Work package custom fields come from the work package schemas of every project/type pair (batched through the
schemas collection's id filter); projects, time entries, users and versions have one schema each. A field the
catalog does not know yet still passes through (the schemas allow additional properties) and is warned about
once, so nothing is dropped silently.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from tap_openproject.hal import (
    ANY,
    BOOLEAN,
    DATE,
    DATETIME,
    DURATION,
    FORMATTABLE,
    INTEGER,
    INTEGER_ARRAY,
    NUMBER,
    STRING,
    STRING_ARRAY,
)
from tap_openproject.observability import STARTUP
from tap_openproject.paging.page import ID, json_param

if t.TYPE_CHECKING:
    from tap_openproject.paging import Pager

CUSTOM_FIELD_KEY = re.compile(r"^customField(\d+)$")
#: Resources with one schema endpoint of their own (/api/v3/<name>/schema).
SINGLE_SCHEMA_RESOURCES = ("projects", "time_entries", "users", "versions")
#: Resources whose custom fields may carry a free-text comment, `customCommentN` (17.x: workspaces).
COMMENTED_RESOURCES = frozenset({"projects"})
_SCALARS: dict[str, dict[str, t.Any]] = {
    "String": STRING,
    "Text": STRING,
    "Link": STRING,
    "Formattable": FORMATTABLE,
    "Integer": INTEGER,
    "Float": NUMBER,
    "Boolean": BOOLEAN,
    "Date": DATE,
    "DateTime": DATETIME,
    "Duration": DURATION,
}
_SCHEMA_BATCH = 50


@dataclass(frozen=True)
class CustomField:
    """One custom field as a schema describes it."""

    id: int
    name: str
    type: str
    linked: bool

    @property
    def key(self) -> str:
        """The property / link name, customFieldN."""
        return f"customField{self.id}"

    @property
    def multi_value(self) -> bool:
        """`[]CustomOption`, `[]User` ...: several values."""
        return self.type.startswith("[]")

    @property
    def comment_key(self) -> str:
        """The property of the field's free-text comment, customCommentN."""
        return f"customComment{self.id}"

    def properties(self, *, with_comment: bool = False) -> dict[str, dict[str, t.Any]]:
        """The catalog columns of this field: the value, or `_id` and `_title` for linked values; and, where the
        resource has them, the comment next to it."""
        label = f"Custom field '{self.name}' ({self.type})"
        if self.linked:
            ids, titles = (INTEGER_ARRAY, STRING_ARRAY) if self.multi_value else (INTEGER, STRING)
            columns = {
                f"{self.key}_id": {**ids, "title": self.name, "description": f"{label}: id(s) of the value(s)"},
                f"{self.key}_title": {**titles, "title": self.name, "description": f"{label}: title(s)"},
            }
        else:
            base = _SCALARS.get(self.type.removeprefix("[]"), ANY)
            if self.multi_value:
                base = {"type": ["array", "null"], "items": {k: v for k, v in base.items() if k != "type"}}
            columns = {self.key: {**base, "title": self.name, "description": label}}
        if with_comment:
            comment = {**STRING, "title": f"{self.name} (comment)", "description": f"{label}: comment"}
            columns[self.comment_key] = comment
        return columns


def fields_of(schema: dict[str, t.Any]) -> list[CustomField]:
    """The custom fields a schema resource describes."""
    found = []
    for key, entry in schema.items():
        match = CUSTOM_FIELD_KEY.match(key)
        if match and isinstance(entry, dict):
            kind = str(entry.get("type") or "")
            linked = entry.get("location") == "_links" or kind.removeprefix("[]") not in _SCALARS
            found.append(CustomField(int(match.group(1)), str(entry.get("name") or key), kind, linked))
    return found


class CustomFieldCatalog:
    """Which custom fields each resource has, read once per run from the instance."""

    def __init__(self, fields: dict[str, dict[int, CustomField]]) -> None:
        self.fields = fields

    @classmethod
    def discover(cls, pager: Pager, project_ids: tuple[int, ...] = ()) -> CustomFieldCatalog:
        """Read the schemas, on the request pool (a schema this server or token lacks contributes no fields)."""

        def single(resource: str) -> list[CustomField]:
            response = pager.client.get_optional(f"/{resource}/schema", label=STARTUP)
            return fields_of(response.body) if response is not None and isinstance(response.body, dict) else []

        fields = {
            resource: {f.id: f for f in found}
            for resource, found in zip(
                SINGLE_SCHEMA_RESOURCES,
                pager.ordered(single, SINGLE_SCHEMA_RESOURCES, pager.concurrency),
                strict=True,
            )
        }
        fields["work_packages"] = {f.id: f for f in _work_package_fields(pager, project_ids)}
        return cls(fields)

    def properties(self, resource: str) -> dict[str, dict[str, t.Any]]:
        """Catalog columns for the custom fields of a resource."""
        columns: dict[str, dict[str, t.Any]] = {}
        with_comment = resource in COMMENTED_RESOURCES
        for field in sorted(self.fields.get(resource, {}).values(), key=lambda f: f.id):
            columns.update(field.properties(with_comment=with_comment))
        return columns

    def records(self) -> list[dict[str, t.Any]]:
        """One row per custom field, for the custom_fields stream."""
        rows: dict[int, dict[str, t.Any]] = {}
        for resource, fields in sorted(self.fields.items()):
            for field in fields.values():
                row = rows.setdefault(
                    field.id,
                    {
                        "id": field.id,
                        "key": field.key,
                        "name": field.name,
                        "field_format": field.type.removeprefix("[]"),
                        "multi_value": field.multi_value,
                        "linked": field.linked,
                        "resources": [],
                    },
                )
                row["resources"].append(resource)
        return [rows[i] for i in sorted(rows)]


def _work_package_fields(pager: Pager, project_ids: tuple[int, ...]) -> list[CustomField]:
    """Work package custom fields, from the schema of every project/type pair (in scope): the per-project type
    lists and the schema batches are read on the request pool, so discovery does not grow by one round trip per
    project."""
    params = {"filters": json_param([{"id": {"operator": "=", "values": [str(p) for p in project_ids]}}])}
    projects = pager.elements(STARTUP, "/projects", params if project_ids else None, keys=ID)
    ids = [p["id"] for p in projects]

    def types_of(project_id: int) -> list[str]:
        types = pager.elements(STARTUP, f"/projects/{project_id}/types", keys=ID)
        return [f"{project_id}-{type_['id']}" for type_ in types]

    pairs = [pair for found in pager.ordered(types_of, ids, pager.concurrency) for pair in found]

    def schemas_of(batch: list[str]) -> list[dict[str, t.Any]]:
        filters = json_param([{"id": {"operator": "=", "values": batch}}])
        return pager.elements(STARTUP, "/work_packages/schemas", {"filters": filters})

    batches = [pairs[start : start + _SCHEMA_BATCH] for start in range(0, len(pairs), _SCHEMA_BATCH)]
    found: dict[int, CustomField] = {}
    for schemas in pager.ordered(schemas_of, batches, pager.concurrency):
        for schema in schemas:
            for field in fields_of(schema):
                found.setdefault(field.id, field)
    return list(found.values())
