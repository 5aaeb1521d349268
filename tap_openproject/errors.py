"""The errors users can see, each with the exit code the CLI documents.

Every message is one line: what went wrong and what to do. None may carry a secret.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3


class TapOpenProjectError(Exception):
    """Base class for errors that end a run with a one-line message."""

    exit_code = EXIT_SYNC_FAILED


class ConfigError(TapOpenProjectError):
    """The configuration is invalid; nothing was requested from the server."""

    exit_code = EXIT_CONFIG


class AuthError(TapOpenProjectError):
    """The server rejected the credentials, or answered as the anonymous user."""

    exit_code = EXIT_AUTH


class SyncError(TapOpenProjectError):
    """The sync failed after retries (API error, server unavailable, breaker open)."""


class CircuitOpenError(SyncError):
    """Too many consecutive failed attempts: the server is treated as unavailable."""


class RateLimitTooLongError(SyncError):
    """The server asked us to wait longer than max_retry_wait."""


class UnsafeRequestError(SyncError):
    """A request would leave base_url (redirect or HAL link to another host or scheme)."""


class Interrupted(BaseException):  # noqa: N818 - a signal, not an error
    """SIGINT or SIGTERM arrived; the last state was written before this was raised.

    A BaseException so that no `except Exception` on the way up can swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM (128 + signal number)."""
        return 128 + self.signum
