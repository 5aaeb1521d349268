"""The `tap-openproject` command: the SDK's CLI with documented exit codes and one-line errors.

Exit codes: 0 success; 1 sync failed (API or server error after retries, breaker open); 2 configuration error;
3 authentication or permission failure at start-up; 130/143 interrupted by SIGINT/SIGTERM (last state written).
"""

from __future__ import annotations

import logging
import sys
import typing as t

from tap_openproject import logs
from tap_openproject.errors import EXIT_SYNC_FAILED, Interrupted, TapOpenProjectError
from tap_openproject.settings import read_config_file, warn_if_readable_by_others
from tap_openproject.tap import TapOpenProject

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


def main(argv: t.Sequence[str] | None = None) -> t.NoReturn:
    """Run the tap; never lets a traceback reach the user (it goes to DEBUG logs, redacted)."""
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
        command.main(args=args, prog_name="tap-openproject", standalone_mode=True)
    except Interrupted as exc:
        logger.error("Stopped by signal %d; the last state was written: run again to continue", exc.signum)
        sys.exit(exc.exit_code)
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
