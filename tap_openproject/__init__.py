"""tap-openproject: a Singer tap for OpenProject API v3."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from tap_openproject.tap import TapOpenProject

__all__ = ["TapOpenProject"]


def __getattr__(name: str) -> t.Any:  # noqa: ANN401 - the module's lazy attribute
    """`tap_openproject.TapOpenProject`, imported on first use: the CLI installs its signal handlers before the
    SDK's import (most of a start-up) begins."""
    if name == "TapOpenProject":
        from tap_openproject.tap import TapOpenProject  # noqa: PLC0415 - lazy on purpose, see above

        return TapOpenProject
    raise AttributeError(name)
