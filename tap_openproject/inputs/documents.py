"""Reading a state or catalog file into JSON, with one-line errors that name the file."""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass
from pathlib import PurePath

from tap_openproject.errors import ConfigError

#: What to do about a state file that cannot be used as it is.
STATE_FIX = (
    "restore it from the last STATE message of a good run, or pass {} to start over (every stream is read in full)"
)
#: What to do about a catalog file that cannot be used as it is.
CATALOG_FIX = "write a new one with `tap-openproject --config CONFIG --discover` and select the streams in it"


@dataclass(frozen=True)
class Document:
    """A JSON input as read, and where it came from (for error lines): e.g. `state file /etc/op/state.json`."""

    value: t.Any
    source: str


def read_document(handle: t.IO[str], kind: str) -> Document:
    """Read an open `--state` or `--catalog` file (`kind` is "state" or "catalog")."""
    source = f"{kind} file {getattr(handle, 'name', '?')}"
    try:
        text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source} cannot be read ({exc.__class__.__name__}): {fix_for(kind)}") from None
    return parse_document(text, source, kind)


def read_path(path: str | PurePath, kind: str) -> Document:
    """Read a state or catalog file by its path (the SDK's way of passing them in process)."""
    source = f"{kind} file {path}"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        detail = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(f"{source} cannot be read ({detail}): {fix_for(kind)}") from None
    return parse_document(text, source, kind)


def parse_document(text: str, source: str, kind: str) -> Document:
    """The JSON value of a file's text; an empty file or invalid JSON is a ConfigError naming the file."""
    if not text.strip():
        raise ConfigError(f"{source} is empty: {fix_for(kind)}")
    try:
        value = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, or a number too large for Python
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        problem = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable value"
        raise ConfigError(f"{source} is not valid JSON ({problem}{where}): {fix_for(kind)}") from None
    return Document(value, source)


def fix_for(kind: str) -> str:
    """What a user does about a state or catalog file that cannot be used."""
    return STATE_FIX if kind == "state" else CATALOG_FIX


def kind_of(value: t.Any) -> str:
    """A JSON value's kind, as users know it: object, list, string, number, true/false, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)
