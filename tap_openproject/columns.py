"""What of a stream's records leaves the tap: the catalog decides, and nothing is dropped without a warning.

- A column the tap declares but the catalog's schema leaves out was removed by the user: it is not sent.
  (Deselecting it in the catalog's metadata is the documented way to exclude data; the SDK honours that.)
- A custom field column the catalog does not know (a field created after discovery) passes through untyped where
  the catalog's schema allows additional properties, and goes to `unmapped_properties` where it does not.
- What the API sent that the tap does not declare is in `unmapped_properties`; the first time a run meets such a
  key on a stream, one WARNING names the stream and the keys.
"""

from __future__ import annotations

import typing as t

from tap_openproject.hal import UNMAPPED

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterable, Mapping

Record = dict[str, t.Any]


def unmapped_keys(unmapped: Mapping[str, t.Any]) -> set[str]:
    """The keys in an `unmapped_properties` value, links as `_links.<name>`."""
    keys = {k for k in unmapped if k != "_links"}
    links = unmapped.get("_links")
    if isinstance(links, dict):
        keys.update(f"_links.{name}" for name in links)
    return keys


class CatalogColumns:
    """One stream's columns as its catalog entry allows them, computed once; one-time warnings about the rest."""

    def __init__(
        self,
        stream: str,
        *,
        declared: Iterable[str],
        catalog: Mapping[str, t.Any],
        unmapped_selected: bool,
        custom_fields: bool,
        logger: logging.Logger,
    ) -> None:
        self.stream = stream
        self.logger = logger
        self.allowed = frozenset(catalog.get("properties") or {})
        #: Declared by the tap, left out of the catalog's schema: never sent.
        self.removed = frozenset(declared) - self.allowed
        #: JSON Schema's default for additionalProperties is true.
        self.open = catalog.get("additionalProperties", True) is not False
        self.unmapped_out = unmapped_selected and UNMAPPED in self.allowed and UNMAPPED not in self.removed
        self.custom_fields = custom_fields
        #: Whether outgoing records need any work (not with a catalog the tap discovered itself).
        self.filters = bool(self.removed) or (custom_fields and not self.open)
        self._known = self.allowed | frozenset(declared)
        self._warned_unmapped: set[str] = set()
        self._warned_new: set[str] = set()
        self._warned_removed = False

    def observe(self, row: Record) -> None:
        """Warn once per key about undeclared data (in unmapped_properties) and unknown custom field columns."""
        unmapped = row.get(UNMAPPED)
        if unmapped:
            new = unmapped_keys(unmapped) - self._warned_unmapped
            if new:
                self._warned_unmapped |= new
                where = (
                    "they are in unmapped_properties"
                    if self.unmapped_out
                    else "unmapped_properties is deselected or not in the catalog, so they are not sent"
                )
                keys = ", ".join(sorted(new))
                self.logger.warning("%s: the API sent keys the tap does not declare (%s): %s", self.stream, keys, where)
        if self.custom_fields:
            self._observe_custom_columns(row)

    def _observe_custom_columns(self, row: Record) -> None:
        if row.keys() <= self._known:  # the usual case, once per record: a subset test builds no set
            return
        new = row.keys() - self._known - self._warned_new
        if not new:
            return
        self._warned_new |= new
        if self.open:
            fate = "they pass through untyped"
        elif self.unmapped_out:
            fate = "the catalog allows no other columns, so they go to unmapped_properties"
        else:
            fate = "the catalog allows no other columns and leaves out unmapped_properties, so they are not sent"
        self.logger.warning(
            "%s has columns the catalog does not declare (%s): %s; run --discover again (meltano: refresh the "
            "catalog) to type them",
            self.stream,
            ", ".join(sorted(new)),
            fate,
        )

    def outgoing(self, record: Record) -> Record:
        """The record as the catalog allows it (a new dict: the original still feeds bookmarks and children)."""
        if self.removed and not self._warned_removed and self.removed & record.keys():
            self._warned_removed = True
            self.logger.warning(
                "%s: the catalog's schema leaves out columns the tap delivers (%s): they are not sent. To exclude "
                "a column, deselect it in the catalog's metadata; to receive it, run --discover again",
                self.stream,
                ", ".join(sorted(self.removed)),
            )
        out = {k: v for k, v in record.items() if k not in self.removed}
        if self.custom_fields and not self.open:
            strays = out.keys() - self.allowed
            if strays:
                moved = {k: out.pop(k) for k in sorted(strays)}
                if self.unmapped_out:
                    out[UNMAPPED] = {**(out.get(UNMAPPED) or {}), **moved}
        return out
