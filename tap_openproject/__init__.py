"""tap-openproject: a Singer tap for OpenProject API v3."""

from tap_openproject.tap import TapOpenProject

__all__ = ["TapOpenProject"]
