"""The `tap-openproject` command: the SDK's CLI with documented exit codes and one-line errors.

Exit codes: 0 success; 1 sync failed (API or server error after retries, breaker open); 2 configuration error;
3 authentication or permission failure at start-up; 130/143 interrupted by SIGINT/SIGTERM (last state written).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import typing as t

from tap_openproject.errors import EXIT_SYNC_FAILED, Interrupted, TapOpenProjectError, TargetGone
from tap_openproject.interrupt import INTERRUPT

if t.TYPE_CHECKING:
    from types import FrameType

logger = logging.getLogger("tap-openproject")


def config_paths(argv: t.Sequence[str]) -> list[str]:
    """The config file paths on a command line (`--config FILE`, `--config=FILE`), not `ENV`."""
    paths = []
    for index, arg in enumerate(argv):
        value = None
        if arg == "--config" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--config="):
            value = arg.split("=", 1)[1]
        if value and value != "ENV":
            paths.append(value)
    return paths


def _exit_now(code: int) -> t.NoReturn:
    """Exit without waiting for request threads still in flight: everything delivered is flushed and the last
    state is written, and an orchestrator that sent SIGTERM expects the process gone within seconds, not after
    the slowest outstanding request (up to `timeout`)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _note_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - the signal API
    INTERRUPT.handle(signum)


def main(argv: t.Sequence[str] | None = None) -> t.NoReturn:
    """Run the tap; never lets a traceback reach the user (it goes to DEBUG logs, redacted)."""
    # First, before the SDK's import (most of a start-up): SIGINT/SIGTERM only take note from here on.
    signal.signal(signal.SIGINT, _note_signal)
    signal.signal(signal.SIGTERM, _note_signal)
    from tap_openproject import logs  # noqa: PLC0415 - after the handlers, see above
    from tap_openproject.settings import read_config_file, warn_if_readable_by_others  # noqa: PLC0415
    from tap_openproject.tap import TapOpenProject  # noqa: PLC0415

    args = list(sys.argv[1:] if argv is None else argv)
    command = TapOpenProject.cli  # sets up the SDK's console logging
    logs.configure()
    try:
        log_format = "text"
        for path in config_paths(args):
            log_format = read_config_file(path).get("log_format", log_format)
        logs.configure(log_format if isinstance(log_format, str) else "text")
        for path in config_paths(args):
            warn_if_readable_by_others(path)
        INTERRUPT.check()
        command.main(args=args, prog_name="tap-openproject", standalone_mode=True)
    except Interrupted as exc:
        if exc.during_sync:
            logger.error("Stopped by signal %d; the last state was written: run again to continue", exc.signum)
        else:
            logger.error("Stopped by signal %d before the sync started; nothing was written: run again", exc.signum)
        _exit_now(exc.exit_code)
    except TargetGone as exc:  # (click's standalone mode turns a broken pipe outside the sync into exit 1 itself)
        logger.error("%s", exc)
        _exit_now(exc.exit_code)  # no interpreter shutdown: it would flush the closed stdout again
    except TapOpenProjectError as exc:
        logger.error("%s", exc)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - last resort: one line for the user, details at DEBUG
        logger.error(
            "Unexpected %s: %s. Run with TAP_OPENPROJECT_LOGLEVEL=DEBUG for details, and please report it",
            type(exc).__name__,
            str(exc).splitlines()[0][:300] if str(exc) else "",
        )
        logger.debug("Traceback of the unexpected error", exc_info=True)
        sys.exit(EXIT_SYNC_FAILED)
    sys.exit(0)
