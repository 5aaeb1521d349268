"""The inputs checked together, as the tap uses them: before the SDK sees them (no request made yet), and once the
credential probe has fixed the sync's start (bookmarks in the future)."""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass
from pathlib import PurePath

from tap_openproject.inputs.catalog import check_catalog
from tap_openproject.inputs.documents import Document, read_path
from tap_openproject.inputs.state import Declared, check_state, declarations, hold_back_future_bookmarks

logger = logging.getLogger("tap-openproject")


@dataclass(frozen=True)
class Inputs:
    """The state and catalog for the SDK, and what the run needs to check once it knows the server's clock."""

    state: dict[str, t.Any] | None
    catalog: dict[str, t.Any] | None
    state_source: str
    declared: t.Mapping[str, Declared]
    #: Streams this run reads incrementally (their bookmarks are used).
    incremental: frozenset[str]

    def hold_back_future_bookmarks(self, tap_state: t.Mapping[str, object], sync_start: str | None) -> None:
        """After the probe: refuse bookmarks in the future, move those within the clock-skew tolerance back."""
        if sync_start is None or not tap_state:
            return
        used = {name: d for name, d in self.declared.items() if name in self.incremental}
        state = t.cast("t.Mapping[str, t.Any]", tap_state)  # the SDK's TypedDict
        for warning in hold_back_future_bookmarks(state, used, sync_start, source=self.state_source):
            logger.warning("%s", warning)


def prepare_inputs(state: t.Any, catalog: t.Any, stream_types: t.Iterable[type]) -> Inputs:
    """Check the state and catalog (a Document, a dict, or a path as the SDK accepts them) before any request;
    warnings are logged here, problems raise a ConfigError (exit 2)."""
    declared = declarations(stream_types)
    catalog_check = None if catalog is None else check_catalog(as_document(catalog, "catalog"), declared)
    synced, full_table = set(declared), frozenset[str]()
    if catalog_check is not None:
        synced, full_table = with_parents(catalog_check.selected, declared), catalog_check.full_table
        for warning in catalog_check.warnings:
            logger.warning("%s", warning)
    state_document = None if state is None else as_document(state, "state")
    checked_state = None
    if state_document is not None:
        state_check = check_state(state_document, declared)
        checked_state = state_check.state
        for note in state_check.notes:
            logger.info("%s", note)
        unused = unused_bookmarks(state_check.state, synced, full_table, declared)
        for warning in [*state_check.warnings, *(f"{state_document.source}: {line}" for line in unused)]:
            logger.warning("%s", warning)
    return Inputs(
        state=checked_state,
        catalog=None if catalog_check is None else catalog_check.catalog,
        state_source="the state" if state_document is None else state_document.source,
        declared=declared,
        incremental=frozenset(name for name in synced - full_table if declared[name].key),
    )


def as_document(value: t.Any, kind: str) -> Document:
    """What the tap was given, as a Document to check."""
    if isinstance(value, Document):
        return value
    if isinstance(value, (str, PurePath)):
        return read_path(value, kind)
    if hasattr(value, "to_dict"):  # the SDK's Catalog object
        value = value.to_dict()
    return Document(value, f"the {kind}")


def with_parents(selected: t.Iterable[str], declared: t.Mapping[str, Declared]) -> set[str]:
    """The streams a run syncs: the selected ones and their parents (the SDK reads a parent for its children)."""
    synced: set[str] = set()
    for name in selected:
        current: str | None = name
        while current and current not in synced:
            synced.add(current)
            current = declared[current].parent
    return synced


def unused_bookmarks(
    state: dict[str, t.Any], synced: set[str], full_table: frozenset[str], declared: t.Mapping[str, Declared]
) -> list[str]:
    """Warnings for bookmarks this run does not use: streams the catalog does not select, or sets to FULL_TABLE."""
    bookmarked = [
        name
        for name, entry in state.get("bookmarks", {}).items()
        if name in declared and declared[name].key and entry.get("replication_key_value")
    ]
    warnings = []
    unselected = [name for name in bookmarked if name not in synced]
    if unselected:
        names = ", ".join(unselected)
        warnings.append(f"bookmarks for streams the catalog does not select are kept unchanged: {names}")
    for name in bookmarked:
        if name in synced and name in full_table:
            warnings.append(
                f"{name} is FULL_TABLE in the catalog: its bookmark is not used (and kept unchanged); the "
                "stream is read in full"
            )
    return warnings
