"""HAL -> flat record: link ids and titles, undisclosed values, formattable text, canonical timestamps.

A stream declares its properties and links (see `RecordShape`); this module turns one HAL element into one flat
record with those columns, plus `customFieldN` columns where the stream carries custom fields, plus one catch-all
column, `unmapped_properties`, for whatever the element holds that the declaration does not: nothing is dropped
silently.

What is data and what is not (`is_resource_link`): a link is a value of the element (a resource link) unless it is
an action (a `method` other than GET, or a templated href), a page of the web application or a file download
(an href outside /api/v3), a schema, or a collection (an href with a query, or one that ends in a name rather than
an id: `/api/v3/work_packages/5/activities`). `self` is the element itself. `_embedded` repeats linked resources
and is left out.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field
from functools import cached_property

from tap_openproject.timeutil import datetime_value

UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"
CUSTOM_FIELD = re.compile(r"^customField\d+$")
#: Custom field values and the free-text comments some custom fields carry (17.x: projects).
CUSTOM_KEY = re.compile(r"^custom(?:Field|Comment)\d+$")
#: The catch-all column: undeclared properties by name, undeclared resource links under "_links".
UNMAPPED = "unmapped_properties"

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
UNMAPPED_SCHEMA: dict[str, t.Any] = {
    "type": ["object", "null"],
    "description": "What the element holds that no other column declares: properties by name, resource links "
    'as {"_links": {name: {"href", "title"}}}. Null when there is nothing.',
}
#: Keys of an element that never go to `unmapped_properties` (handled, or not data).
_HANDLED_KEYS = frozenset({"id", "_type", "_links", "_embedded"})
_API = "api/v3/"


def link_id(href: str | None, *, as_string: bool = False) -> int | str | None:
    """The id at the end of a resource href; None when unset, undisclosed or not an id.

    The route does not matter: `/api/v3/projects/7`, `/programs/7`, `/portfolios/7` and `/workspaces/7` are all 7.
    """
    if not href or href == UNDISCLOSED:
        return None
    last = href.rstrip("/").rsplit("/", 1)[-1]
    if as_string:
        return last
    return int(last) if last.isdigit() else None


def is_resource_link(link: t.Any) -> bool:
    """Whether a HAL link is a value of the element (see the module docstring), not an action or a collection."""
    if not isinstance(link, dict):
        return False
    method = link.get("method")
    if (method and str(method).lower() != "get") or link.get("templated"):
        return False
    href = link.get("href")
    # None: an unset resource link (the value is "none"); urn: undisclosed, or a value such as a sprint status.
    return href is None or (isinstance(href, str) and (href.startswith("urn:") or _names_a_resource(href)))


def _names_a_resource(href: str) -> bool:
    """/api/v3/<collection>/<id> (ids may be names: project_statuses/on_track); deeper paths only with an integer
    id at the end (time_entries/activities/3), not sub-collections (work_packages/5/activities); no web pages or
    file downloads (outside /api/v3), no filtered collections (a query)."""
    start = href.find(_API)
    if start < 0 or "?" in href:
        return False
    segments = href[start + len(_API) :].strip("/").split("/")
    return len(segments) == 2 or (len(segments) > 2 and segments[-1].isdigit())


def _link_value(link: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"href": link.get("href"), "title": link.get("title")}


@dataclass(frozen=True)
class RecordShape:
    """What a stream's records look like: plain properties, and which links become which columns."""

    properties: dict[str, dict[str, t.Any]]
    links: tuple[str, ...] = ()
    string_id_links: frozenset[str] = frozenset()
    multi_links: tuple[str, ...] = ()
    custom_fields: bool = False
    extra: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    #: Other spellings of a property (the spec's attachment example says `filesize`, the API `fileSize`).
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whether records carry `unmapped_properties` (False only for records the tap composes itself).
    unmapped: bool = True
    #: Element keys and link names known to need no look into `unmapped_properties`: the declared ones, plus those
    #: found to be custom fields or not data (a name's kind does not change between records). Replaced, never
    #: mutated, so flattening on several threads reads a consistent set without a lock.
    _skip: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def json_schema(self) -> dict[str, t.Any]:
        """The stream's JSON schema: properties, link columns, extra (context) columns, unmapped_properties."""
        props: dict[str, t.Any] = {"id": {"type": ["integer"]}}
        props.update(self.properties)
        props["resource_type"] = {**STRING, "description": "The HAL _type of the element."}
        for name in self.links:
            props[f"{name}_id"] = STRING if name in self.string_id_links else INTEGER
            props[f"{name}_title"] = STRING
        for name in self.multi_links:
            props[f"{name}_ids"] = INTEGER_ARRAY
        props.update(self.extra)
        if self.unmapped:
            props[UNMAPPED] = UNMAPPED_SCHEMA
        schema: dict[str, t.Any] = {"type": "object", "properties": props}
        # Custom fields (customFieldN, customFieldN_id, customFieldN_title) are instance-specific: let them
        # through instead of dropping them.
        schema["additionalProperties"] = self.custom_fields
        return schema

    @cached_property
    def datetime_properties(self) -> tuple[str, ...]:
        """Properties whose values are normalised to canonical timestamps."""
        return tuple(n for n, s in self.properties.items() if s.get("format") == "date-time")

    @cached_property
    def declared_keys(self) -> frozenset[str]:
        """Element keys that land in a typed column (custom field keys aside)."""
        spellings = (s for others in self.aliases.values() for s in others)
        return frozenset(_HANDLED_KEYS | set(self.properties) | set(spellings))

    @cached_property
    def declared_links(self) -> frozenset[str]:
        """Link names that land in typed columns (custom field links aside), and `self`."""
        return frozenset({"self", *self.links, *self.multi_links})

    @cached_property
    def _property_keys(self) -> tuple[str, ...]:
        return ("id", *self.properties)

    @cached_property
    def _link_columns(self) -> tuple[tuple[str, str, str, bool], ...]:
        """(link, id column, title column, whether the id stays a string) for each declared link."""
        return tuple((n, f"{n}_id", f"{n}_title", n in self.string_id_links) for n in self.links)

    @cached_property
    def _multi_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple((n, f"{n}_ids") for n in self.multi_links)

    def flatten(self, element: dict[str, t.Any]) -> dict[str, t.Any]:
        """One HAL element -> one flat record (undeclared data in `unmapped_properties`).

        The hot path of every run (once per record, on the request pool): the column names are computed once per
        shape, and a link's id is read without a call per link. An element of a typed page (typed.py) flattens
        itself, the same way.
        """
        if type(element) is not dict:
            return element.flat()  # type: ignore[attr-defined,no-any-return]
        get = element.get
        keys = self._property_keys
        record: dict[str, t.Any] = dict(zip(keys, map(get, keys), strict=True))
        for name, others in self.aliases.items():
            if record[name] is None:
                record[name] = next((element[o] for o in others if get(o) is not None), None)
        for name in self.datetime_properties:
            record[name] = datetime_value(record[name])
        record["resource_type"] = get("_type")
        links: dict[str, t.Any] = get("_links") or {}
        link_of = links.get
        for name, id_column, title_column, as_string in self._link_columns:
            link = link_of(name)
            href = link.get("href") if isinstance(link, dict) else None
            if not href or href == UNDISCLOSED:
                record[id_column] = record[title_column] = None
                continue
            last = href.rstrip("/").rsplit("/", 1)[-1]  # link_id's rule, inline: once per link and record
            ident = last if as_string else (int(last) if last.isdigit() else None)
            record[id_column] = ident
            record[title_column] = link.get("title") if ident is not None else None  # type: ignore[union-attr]
        for name, column in self._multi_columns:
            items = link_of(name)
            if isinstance(items, dict):  # one link where a list was declared: still its value
                items = [items]
            if isinstance(items, list):
                ids = (link_id(item.get("href")) for item in items if isinstance(item, dict))
                record[column] = [i for i in ids if isinstance(i, int)]
            else:
                record[column] = None
        if self.custom_fields:
            self._flatten_custom_fields(element, links, record, self.declared_keys, self.declared_links)
        if self.unmapped:
            record[UNMAPPED] = self._unmapped(element, links)
        return record

    def _unmapped(self, element: dict[str, t.Any], links: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """Undeclared properties and undeclared resource links of one element; None when there are none."""
        skip_keys = self._skip.get("keys") or self.declared_keys
        skip_links = self._skip.get("links") or self.declared_links
        if element.keys() <= skip_keys and links.keys() <= skip_links:
            return None  # the usual case: a subset test, no set built
        found: dict[str, t.Any] = {}
        for key in element.keys() - skip_keys:
            if self.custom_fields and CUSTOM_KEY.match(key):
                self._skip["keys"] = skip_keys = skip_keys | {key}
            else:
                found[key] = element[key]
        data_links: dict[str, t.Any] = {}
        for name in links.keys() - skip_links:
            value = None
            if self.custom_fields and CUSTOM_FIELD.match(name):
                self._skip["links"] = skip_links = skip_links | {name}
            else:
                value, is_data = self._data_link(links[name])
                if not is_data:
                    self._skip["links"] = skip_links = skip_links | {name}
            if value is not None:
                data_links[name] = value
        if data_links:
            found["_links"] = dict(sorted(data_links.items()))
        return dict(sorted(found.items())) if found else None

    @staticmethod
    def _data_link(link: t.Any) -> tuple[t.Any, bool]:
        """(the value of an undeclared link if it is a resource link or a list of them, whether its kind is data).

        An unset link or an empty list is kept or skipped without deciding the kind: it says nothing about it.
        """
        if isinstance(link, list):
            items = [item for item in link if isinstance(item, dict)]
            kept = [_link_value(item) for item in items if is_resource_link(item)]
            return (kept or None), bool(kept) or not items
        if is_resource_link(link):
            return _link_value(link), True
        return None, not (isinstance(link, dict) and link.get("href") is not None)

    @staticmethod
    def _flatten_custom_fields(
        element: dict[str, t.Any],
        links: dict[str, t.Any],
        record: dict[str, t.Any],
        declared_keys: frozenset[str],
        declared_links: frozenset[str],
    ) -> None:
        """customFieldN / customCommentN values, and customFieldN links as `_id` and `_title` columns, in the order
        of their names (only the keys and links no column declares are looked at: a set difference, not a loop
        over every key)."""
        for key in sorted(element.keys() - declared_keys):
            if key.startswith("custom") and CUSTOM_KEY.match(key):
                record[key] = element[key]
        for key in sorted(links.keys() - declared_links):
            if not (key.startswith("customField") and CUSTOM_FIELD.match(key)):
                continue
            value = links[key]
            if isinstance(value, list):
                items = [v for v in value if isinstance(v, dict)]
                record[f"{key}_id"] = [link_id(v.get("href")) for v in items]
                record[f"{key}_title"] = [v.get("title") for v in items]
            elif isinstance(value, dict):
                record[f"{key}_id"] = link_id(value.get("href"))
                record[f"{key}_title"] = value.get("title") if record[f"{key}_id"] is not None else None
