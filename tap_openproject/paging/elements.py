"""The elements of a typed page (see typed.py): compact objects that read like the dicts readers expect."""

from __future__ import annotations

import typing as t
from typing import ClassVar

import msgspec

UNSET = msgspec.UNSET


class TypedElement(msgspec.Struct, forbid_unknown_fields=True):
    """Base of the generated element layouts: enough of a dict's reading interface for the readers."""

    #: Element key -> field name (set by each generated layout).
    _attr_of: ClassVar[dict[str, str]] = {}

    def get(self, key: str, default: t.Any = None) -> t.Any:
        """The value of an element key, as dict.get would give it. An absent key is UNSET inside, except a plain
        column's key (typed.plain_keys), whose field defaults to None: for those, absent reads as None."""
        attr = self._attr_of.get(key)
        value = UNSET if attr is None else getattr(self, attr)
        return default if value is UNSET else value

    def __getitem__(self, key: str) -> t.Any:
        value = self.get(key, UNSET)
        if value is UNSET:
            raise KeyError(key)
        return value

    def flat(self) -> dict[str, t.Any]:
        """The flat record (generated per layout)."""
        raise NotImplementedError


class TypedLink(msgspec.Struct, forbid_unknown_fields=True):
    """Base of the generated link layouts."""

    #: The link's attribute names, in field order (set by each generated layout).
    _link_keys: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict[str, t.Any]:
        """The link as the dict it was in the answer (only the attributes it had)."""
        values = msgspec.structs.astuple(self)
        return {name: value for name, value in zip(self._link_keys, values, strict=True) if value is not UNSET}
