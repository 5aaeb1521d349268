"""RecordShape for links whose ids are not numbers: arrays of string ids (a query's `columns`, `sortBy`) and links
whose whole href is the value (a storage's `origin`, a web address); and for links that are not data although
their href looks like a resource (`schema`: `/api/v3/time_entries/schema`)."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from functools import cached_property

from tap_openproject.hal import STRING, STRING_ARRAY, RecordShape, link_id


@dataclass(frozen=True)
class LinkedShape(RecordShape):
    """A RecordShape plus `<name>_ids` string arrays (string_multi_links) and `<name>_href` columns (href_links)."""

    string_multi_links: tuple[str, ...] = ()
    href_links: tuple[str, ...] = ()
    #: Links that are not values of the element though the generic rule would take them for resource links: a
    #: resource's schema at `/api/v3/<collection>/schema` (two path segments, like `/api/v3/users/5`).
    not_data_links: tuple[str, ...] = ()

    @cached_property
    def declared_links(self) -> frozenset[str]:
        """RecordShape's, plus the string-id arrays, the href columns and the links that are not data."""
        declared = {"self", *self.links, *self.multi_links}
        return frozenset({*declared, *self.string_multi_links, *self.href_links, *self.not_data_links})

    def json_schema(self) -> dict[str, t.Any]:
        """The RecordShape schema plus the string-id arrays and href columns."""
        schema = super().json_schema()
        for name in self.string_multi_links:
            schema["properties"][f"{name}_ids"] = STRING_ARRAY
        for name in self.href_links:
            schema["properties"][f"{name}_href"] = STRING
        return schema

    def flatten(self, element: dict[str, t.Any]) -> dict[str, t.Any]:
        """RecordShape.flatten, then the string-id arrays (last href segments, e.g. `subject`) and hrefs."""
        record = super().flatten(element)
        links: dict[str, t.Any] = element.get("_links") or {}
        for name in self.string_multi_links:
            items = links.get(name)
            if isinstance(items, list):
                ids = (link_id(item.get("href"), as_string=True) for item in items if isinstance(item, dict))
                record[f"{name}_ids"] = [i for i in ids if isinstance(i, str)]
            else:
                record[f"{name}_ids"] = None
        for name in self.href_links:
            link = links.get(name)
            href = link.get("href") if isinstance(link, dict) else None
            record[f"{name}_href"] = href if isinstance(href, str) and link_id(href, as_string=True) else None
        return record
