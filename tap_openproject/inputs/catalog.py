"""The catalog (`--catalog`): its shape, which of the tap's streams it selects, and how each is replicated.

The SDK reads selection from each entry's metadata and the replication key and method from the entry (or its
stream metadata); a catalog without them silently turns an incremental stream into a full-table read that keeps,
but ignores, the stream's bookmark. Here, before any request:

- a catalog that selects none of the tap's streams is refused; unknown streams next to known ones are ignored with
  a warning that suggests the closest name;
- an incremental stream with no replication key in the catalog is read incrementally by the key the tap declares
  (a catalog written by hand, or by an older tool), with a warning; an explicit FULL_TABLE is honoured, and then
  the stream has no replication key at all (no bookmark is read, advanced or used to filter);
- a replication key other than the tap's, or a method other than INCREMENTAL / FULL_TABLE, is refused.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass, field

from singer_sdk.singerlib import MetadataMapping

from tap_openproject.errors import ConfigError
from tap_openproject.inputs.documents import CATALOG_FIX, Document, kind_of
from tap_openproject.inputs.state import names_with_hints

if t.TYPE_CHECKING:
    from tap_openproject.inputs.state import Declared

INCREMENTAL, FULL_TABLE = "INCREMENTAL", "FULL_TABLE"
#: Stream-metadata keys that name the replication method: the Singer spec's (what Meltano's `metadata` extra sets),
#: then the SDK's. Either wins over the entry's `replication_method`, which discovery wrote: the SDK alone reads only
#: the entry's and `forced-replication-method`, so `metadata: {work_packages: {replication-method: FULL_TABLE}}` in
#: meltano.yml was silently ignored.
METHOD_KEYS = ("replication-method", "forced-replication-method")


@dataclass
class CatalogCheck:
    """A catalog as the SDK gets it, what it selects, and what to warn about."""

    catalog: dict[str, t.Any]
    #: The tap's streams the catalog selects.
    selected: frozenset[str]
    #: Incremental streams the catalog sets to FULL_TABLE.
    full_table: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)


def check_catalog(document: Document, declared: t.Mapping[str, Declared]) -> CatalogCheck:
    """The catalog, checked and with each known stream's replication settled, or a ConfigError."""
    source = document.source
    value = document.value
    if not isinstance(value, dict) or not isinstance(value.get("streams"), list):
        found = kind_of(value) if not isinstance(value, dict) else f'"streams" as {kind_of(value.get("streams"))}'
        raise ConfigError(
            f'{source}: expected a Singer catalog, an object with a "streams" list, found {found}; {CATALOG_FIX}'
        )
    entries: list[dict[str, t.Any]] = []
    selected: set[str] = set()
    unknown: list[str] = []
    full_table: set[str] = set()
    warnings: list[str] = []
    for index, raw in enumerate(value["streams"]):
        name = check_entry_shape(raw, f"{source}: streams[{index}]")
        if name in {e["tap_stream_id"] for e in entries}:
            raise ConfigError(f"{source}: stream {name} is listed twice; keep one entry, or {CATALOG_FIX}")
        entry = copy.deepcopy(raw)
        entries.append(entry)
        is_selected = MetadataMapping.from_iterable(entry.get("metadata", [])).resolve_selection().get((), True)
        if name not in declared:
            if is_selected:
                unknown.append(name)
            continue
        if is_selected:
            selected.add(name)
        warning = settle_replication(entry, declared[name].key, f"{source}: {name}")
        if warning and is_selected:
            warnings.append(warning)
        if is_selected:
            require_replication_key_column(entry, f"{source}: {name}")
        if declared[name].key and not entry.get("replication_key"):
            full_table.add(name)
    if not selected:
        raise ConfigError(no_selection(source, unknown, declared))
    if unknown:
        warnings.insert(
            0, f"{source}: ignoring selected streams this tap does not have: {names_with_hints(unknown, declared)}"
        )
    return CatalogCheck({**value, "streams": entries}, frozenset(selected), frozenset(full_table), warnings)


def no_selection(source: str, unknown: list[str], declared: t.Iterable[str]) -> str:
    """The line for a catalog that selects none of the tap's streams."""
    if unknown:
        return (
            f"{source} selects no stream of this tap, only unknown ones: {names_with_hints(unknown, declared)}; "
            f"fix the names, or {CATALOG_FIX}"
        )
    return f'{source} selects no stream (no "selected": true in any stream\'s metadata); select one, or {CATALOG_FIX}'


def check_entry_shape(entry: t.Any, where: str) -> str:
    """The entry's stream name, once its shape is what the SDK reads without failing; else a ConfigError."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object, found {kind_of(entry)}; {CATALOG_FIX}")
    name = entry.get("tap_stream_id")
    if not isinstance(name, str) or not name:
        raise ConfigError(f'{where} has no "tap_stream_id" (the stream name); {CATALOG_FIX}')
    where = f"{where.rsplit(': ', 1)[0]}: stream {name}"
    for key, kinds, what in (
        ("schema", dict, "an object"),
        ("metadata", list, "a list"),
        ("key_properties", (list, tuple), "a list"),
    ):
        if key in entry and not isinstance(entry[key], kinds):
            raise ConfigError(f'{where}: "{key}" must be {what}, found {kind_of(entry[key])}; {CATALOG_FIX}')
    properties = entry.get("schema", {}).get("properties", {})
    if not isinstance(properties, dict) or not all(isinstance(p, dict) for p in properties.values()):
        raise ConfigError(f'{where}: "schema" "properties" must map names to JSON schemas; {CATALOG_FIX}')
    for item in entry.get("metadata", []):
        breadcrumb = item.get("breadcrumb") if isinstance(item, dict) else None
        if (
            not isinstance(breadcrumb, (list, tuple))
            or not all(isinstance(b, str) for b in breadcrumb)
            or not (
                isinstance(item.get("metadata"), dict)  # type: ignore[union-attr]
            )
        ):
            raise ConfigError(
                f'{where}: every "metadata" item needs a "breadcrumb" list of names and a "metadata" '
                f"object; {CATALOG_FIX}"
            )
        for flag in ("selected", "selected-by-default"):
            if item["metadata"].get(flag) not in (None, True, False):
                raise ConfigError(
                    f'{where}: "{flag}" must be true or false, found {item["metadata"][flag]!r}; {CATALOG_FIX}'
                )
    return name


def stream_metadata(entry: dict[str, t.Any]) -> dict[str, t.Any]:
    """The entry's stream-level metadata (breadcrumb []), created empty if the entry has none."""
    for item in entry.setdefault("metadata", []):
        if not item["breadcrumb"]:
            return t.cast("dict[str, t.Any]", item["metadata"])
    item = {"breadcrumb": [], "metadata": {}}
    entry["metadata"].append(item)
    return t.cast("dict[str, t.Any]", item["metadata"])


def require_replication_key_column(entry: dict[str, t.Any], where: str) -> None:
    """An incremental stream's schema must keep its replication key: the SDK would stop the run on it."""
    key = entry.get("replication_key")
    if key and key not in entry["schema"]["properties"]:
        raise ConfigError(
            f"{where}: the replication key {key} is not in the stream's schema; put the property back (or write "
            f"the catalog again with `tap-openproject --config CONFIG --discover`), or set replication-method "
            "FULL_TABLE to read the stream in full"
        )


def settle_replication(entry: dict[str, t.Any], declared_key: str | None, where: str) -> str | None:
    """Set the entry's replication key and method to what this run does; a warning, or a ConfigError."""
    metadata = stream_metadata(entry)
    # A key set in either place counts (discovery writes both; a hand edit may change only one).
    keys = [k for k in (entry.get("replication_key"), metadata.get("replication-key")) if k]
    key = next((k for k in keys if k != declared_key), keys[0] if keys else None)
    method = next((metadata[k] for k in METHOD_KEYS if metadata.get(k)), None) or entry.get("replication_method")
    if method not in (None, INCREMENTAL, FULL_TABLE):
        raise ConfigError(f"{where}: replication method {method!r} is not supported; use INCREMENTAL or FULL_TABLE")
    if declared_key is None:
        if key:
            raise ConfigError(
                f"{where}: the catalog sets replication key {key!r}, but this stream has none (it is "
                f"always read in full); remove it, or {CATALOG_FIX}"
            )
        if method != INCREMENTAL:
            return None
        # Left INCREMENTAL, the SDK never finalizes the stream's state: the run's last line is not a STATE message.
        entry["replication_method"] = FULL_TABLE
        for method_key in METHOD_KEYS:
            metadata.pop(method_key, None)
        return f"{where}: INCREMENTAL is not possible without a replication key: read in full (FULL_TABLE)"
    if key and key != declared_key:
        raise ConfigError(
            f"{where}: replication key {key!r} is not supported, only {declared_key}; set "
            f"{declared_key}, or {CATALOG_FIX}"
        )
    if method == FULL_TABLE:
        # No key at all: with one, the SDK reads in full but the tap would still advance the bookmark and drop the
        # records its boundary says were delivered, which a full read (and ACTIVATE_VERSION) must not.
        entry["replication_key"] = None
        metadata.pop("replication-key", None)
        entry["replication_method"] = FULL_TABLE
        return None
    entry["replication_key"], entry["replication_method"] = declared_key, INCREMENTAL
    metadata["replication-key"] = declared_key
    if not key:
        return (
            f"{where} has no replication key in the catalog: reading it incrementally by {declared_key}, as the "
            f"tap declares (set replication-method FULL_TABLE to read it in full; --discover writes both)"
        )
    return None
