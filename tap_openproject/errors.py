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


class HTTPStatusError(SyncError):
    """OpenProject answered with a status that is not retried (400, 401, 403, 404, 422 ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class CollectionUnavailable(SyncError):  # noqa: N818 - names a condition the caller decides about
    """A collection this server does not have (404) or this token may not read (403).

    Raised for a stream's first request; the stream is then skipped with a warning, or the run fails when
    fail_on_unavailable_streams is set.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(BaseException):  # noqa: N818 - a signal, not an error
    """SIGINT or SIGTERM arrived (raised at a safe point, see interrupt.py).

    A BaseException so that no `except Exception` on the way up can swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
        #: True once the sync had begun (the run then wrote its last state on the way out).
        self.during_sync = False

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM (128 + signal number)."""
        return 128 + self.signum


class TargetGone(BaseException):  # noqa: N818 - a condition, like Interrupted
    """stdout was closed (the target exited or stopped reading): nothing more can be delivered.

    A BaseException, like Interrupted: the SDK's `except Exception` around each stream would log it as a stream
    failure, and nothing on the way up may try to write the last state to a closed stdout.
    """

    exit_code = EXIT_SYNC_FAILED

    def __init__(self) -> None:
        super().__init__(
            "The target stopped reading (stdout closed): nothing more can be delivered; the last state it received "
            "is where the next run continues"
        )
