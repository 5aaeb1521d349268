"""The run's inputs besides the configuration: the state (`--state`) and the catalog (`--catalog`), checked before
any request, so that a broken or foreign file ends the run with one line (exit 2) instead of an unexpected error
deep in the SDK, or a sync that silently reads the wrong thing.

- documents.py: reading a file into JSON (empty, not JSON, not UTF-8).
- state.py: the state's shape (Meltano's `singer_state` wrapper and a whole STATE message are understood), each
  stream's bookmark, and bookmarks ahead of the sync's start (checked once the server's clock is known).
- catalog.py: the catalog's shape, which streams it selects, and each stream's replication key and method.
- prepare.py: all of it together, as the tap calls it.
"""

from __future__ import annotations

from tap_openproject.inputs.catalog import CatalogCheck, check_catalog
from tap_openproject.inputs.documents import Document, read_document
from tap_openproject.inputs.prepare import Inputs, prepare_inputs
from tap_openproject.inputs.state import (
    FUTURE_TOLERANCE,
    Declared,
    StateCheck,
    check_state,
    declarations,
    hold_back_future_bookmarks,
)

__all__ = [
    "FUTURE_TOLERANCE",
    "CatalogCheck",
    "Declared",
    "Document",
    "Inputs",
    "StateCheck",
    "check_catalog",
    "check_state",
    "declarations",
    "hold_back_future_bookmarks",
    "prepare_inputs",
    "read_document",
]
