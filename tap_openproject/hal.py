"""HAL -> flat record: link ids and titles, undisclosed values, formattable text, canonical timestamps.

A stream declares its properties and links (see `RecordShape`); this module turns one HAL element into one flat
record with exactly those columns, plus `customFieldN` columns where the stream carries custom fields.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from tap_openproject.timeutil import datetime_value

UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"
CUSTOM_FIELD = re.compile(r"^customField\d+$")

# JSON Schema fragments for OpenProject's value types. Every column is nullable: the API omits or nulls
# values the caller may not see.
INTEGER: dict[str, t.Any] = {"type": ["integer", "null"]}
NUMBER: dict[str, t.Any] = {"type": ["number", "null"]}
BOOLEAN: dict[str, t.Any] = {"type": ["boolean", "null"]}
STRING: dict[str, t.Any] = {"type": ["string", "null"]}
DATE: dict[str, t.Any] = {"type": ["string", "null"], "format": "date"}
DATETIME: dict[str, t.Any] = {"type": ["string", "null"], "format": "date-time"}
DURATION: dict[str, t.Any] = {"type": ["string", "null"], "description": "ISO 8601 duration, e.g. PT2H30M"}
FORMATTABLE: dict[str, t.Any] = {
    "type": ["object", "null"],
    "properties": {"format": STRING, "raw": STRING, "html": STRING},
}
INTEGER_ARRAY: dict[str, t.Any] = {"type": ["array", "null"], "items": {"type": "integer"}}
STRING_ARRAY: dict[str, t.Any] = {"type": ["array", "null"], "items": {"type": "string"}}
ANY: dict[str, t.Any] = {}


def link_id(href: str | None, *, as_string: bool = False) -> int | str | None:
    """The id at the end of a resource href; None when unset, undisclosed or not an id."""
    if not href or href == UNDISCLOSED:
        return None
    last = href.rstrip("/").rsplit("/", 1)[-1]
    if as_string:
        return last
    return int(last) if last.isdigit() else None


@dataclass(frozen=True)
class RecordShape:
    """What a stream's records look like: plain properties, and which links become which columns."""

    properties: dict[str, dict[str, t.Any]]
    links: tuple[str, ...] = ()
    string_id_links: frozenset[str] = frozenset()
    multi_links: tuple[str, ...] = ()
    custom_fields: bool = False
    extra: dict[str, dict[str, t.Any]] = field(default_factory=dict)

    def json_schema(self) -> dict[str, t.Any]:
        """The stream's JSON schema: properties, link columns, extra (context) columns."""
        props: dict[str, t.Any] = {"id": {"type": ["integer"]}}
        props.update(self.properties)
        props["resource_type"] = {**STRING, "description": "The HAL _type of the element."}
        for name in self.links:
            props[f"{name}_id"] = STRING if name in self.string_id_links else INTEGER
            props[f"{name}_title"] = STRING
        for name in self.multi_links:
            props[f"{name}_ids"] = INTEGER_ARRAY
        props.update(self.extra)
        schema: dict[str, t.Any] = {"type": "object", "properties": props}
        # Custom fields (customFieldN, customFieldN_id, customFieldN_title) are instance-specific: let them
        # through instead of dropping them.
        schema["additionalProperties"] = self.custom_fields
        return schema

    @property
    def datetime_properties(self) -> tuple[str, ...]:
        """Properties whose values are normalised to canonical timestamps."""
        return tuple(n for n, s in self.properties.items() if s.get("format") == "date-time")

    def flatten(self, element: dict[str, t.Any]) -> dict[str, t.Any]:
        """One HAL element -> one flat record (action links, _embedded and unknown links are dropped)."""
        record: dict[str, t.Any] = {"id": element.get("id")}
        for name in self.properties:
            record[name] = element.get(name)
        for name in self.datetime_properties:
            record[name] = datetime_value(record[name])
        record["resource_type"] = element.get("_type")
        links: dict[str, t.Any] = element.get("_links") or {}
        for name in self.links:
            link = links.get(name)
            if isinstance(link, dict):
                record[f"{name}_id"] = link_id(link.get("href"), as_string=name in self.string_id_links)
                record[f"{name}_title"] = link.get("title") if record[f"{name}_id"] is not None else None
            else:
                record[f"{name}_id"] = None
                record[f"{name}_title"] = None
        for name in self.multi_links:
            items = links.get(name)
            if isinstance(items, list):
                ids = (link_id(item.get("href")) for item in items if isinstance(item, dict))
                record[f"{name}_ids"] = [i for i in ids if isinstance(i, int)]
            else:
                record[f"{name}_ids"] = None
        if self.custom_fields:
            self._flatten_custom_fields(element, links, record)
        return record

    @staticmethod
    def _flatten_custom_fields(element: dict[str, t.Any], links: dict[str, t.Any], record: dict[str, t.Any]) -> None:
        for key, value in element.items():
            if key.startswith("customField") and CUSTOM_FIELD.match(key):
                record[key] = value
        for key, value in links.items():
            if not (key.startswith("customField") and CUSTOM_FIELD.match(key)):
                continue
            if isinstance(value, list):
                items = [v for v in value if isinstance(v, dict)]
                record[f"{key}_id"] = [link_id(v.get("href")) for v in items]
                record[f"{key}_title"] = [v.get("title") for v in items]
            elif isinstance(value, dict):
                record[f"{key}_id"] = link_id(value.get("href"))
                record[f"{key}_title"] = value.get("title") if record[f"{key}_id"] is not None else None
