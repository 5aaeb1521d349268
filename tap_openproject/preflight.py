"""`tap-openproject-preflight`: check an installation before scheduling it.

Checks the URL and TLS, the credentials, the server version, the maximum page size, and which streams this token
can read, and prints a table with a verdict. Exit codes as for a sync: 0 ready (perhaps with warnings), 1 not
ready (server unreachable, TLS failure ...), 2 configuration error, 3 credentials rejected.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from tap_openproject import logs
from tap_openproject.errors import (
    EXIT_AUTH,
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_SYNC_FAILED,
    ConfigError,
    HTTPStatusError,
    TapOpenProjectError,
)
from tap_openproject.paging import page_of
from tap_openproject.paging.page import json_param
from tap_openproject.runtime import RunContext
from tap_openproject.settings import (
    default_user_agent,
    env_config,
    read_config,
    resolve,
    settings_of,
    warn_if_readable_by_others,
)
from tap_openproject.streams import STREAMS_BY_NAME

OK, WARN, FAIL = "OK", "WARN", "FAIL"
#: Versions this tap is built and tested for.
SUPPORTED_MAJORS = range(12, 18)
#: The statistics label of preflight's requests.
LABEL = "preflight"


@dataclass
class Row:
    """One line of the preflight table."""

    check: str
    status: str
    detail: str


def run_checks(config: dict[str, t.Any]) -> tuple[list[Row], int]:
    """All checks, in order; stops at the first one that makes the rest meaningless."""
    rows: list[Row] = []
    try:
        resolved = resolve(config)
    except ConfigError as exc:
        return [Row("configuration", FAIL, str(exc))], EXIT_CONFIG
    rows.append(Row("configuration", OK, "valid"))
    resolved["max_retries"] = min(resolved["max_retries"], 1)  # answer quickly; the sync retries for real
    run = RunContext(settings_of(resolved, default_user_agent=default_user_agent()))
    try:
        return _server_checks(run, rows)
    finally:
        run.close()


def _server_checks(run: RunContext, rows: list[Row]) -> tuple[list[Row], int]:
    root = urlsplit(run.settings.api_root)
    try:
        body = run.client.get("", label=LABEL).body
    except HTTPStatusError as exc:
        if exc.status not in (401, 403):
            rows.append(Row("server", FAIL, f"{run.settings.api_root} answered {exc}"))
            return rows, EXIT_SYNC_FAILED
        body = {}
    except TapOpenProjectError as exc:
        rows.append(Row("server", FAIL, str(exc)))
        return rows, EXIT_SYNC_FAILED
    if root.scheme == "https":
        rows.append(Row("URL and TLS", OK, f"{root.netloc} over https, certificate verified"))
    else:
        rows.append(Row("URL and TLS", WARN, f"{root.netloc} over plain http: the API key travels unencrypted"))
    try:
        run.start()
        me = run.client.get("/users/me", label=LABEL).body
    except TapOpenProjectError as exc:
        rows.append(Row("credentials", FAIL, str(exc)))
        return rows, getattr(exc, "exit_code", EXIT_AUTH)
    admin = "admin" if me.get("admin") else "not admin (users stream will be skipped)"
    rows.append(Row("credentials", OK, f"user {me.get('login')} (id {me.get('id')}), {admin}"))
    rows.append(_version_row(body if isinstance(body, dict) else {}))
    rows.append(_page_size_row(run, run.settings.page_size))
    rows += _stream_rows(run)
    return rows, EXIT_OK


def _version_row(root_body: dict[str, t.Any]) -> Row:
    version = root_body.get("coreVersion")
    if not version:
        return Row("server version", WARN, "not disclosed (only admins see coreVersion)")
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        major = -1
    if major not in SUPPORTED_MAJORS:
        return Row("server version", WARN, f"OpenProject {version}: outside the tested 12.x-17.x")
    return Row("server version", OK, f"OpenProject {version}")


def _page_size_row(run: RunContext, wanted: int) -> Row:
    # A page far past the end costs nothing and still reports the page size the server really uses.
    params = {"pageSize": 100_000, "offset": 1_000_000, "filters": "[]"}
    try:
        page = page_of(run.client.get("/work_packages", params, label=LABEL), 1_000_000)
    except TapOpenProjectError as exc:
        return Row("maximum page size", WARN, f"could not tell: {exc}")
    cap = page.page_size or 0
    if cap < wanted:
        return Row("maximum page size", WARN, f"{cap} (page_size {wanted} will be capped to it)")
    return Row("maximum page size", OK, f"{cap} (page_size {wanted})")


def _stream_rows(run: RunContext) -> list[Row]:
    rows = []
    for name, stream in sorted(STREAMS_BY_NAME.items()):
        if stream.parent_stream_type is not None or name == "custom_fields" or "{" in stream.path:
            continue  # no collection of its own to probe: read per parent, per project or per linked id
        params: dict[str, t.Any] = {"pageSize": 1, "offset": 1}
        if stream.always_send_filters:
            params["filters"] = json_param(stream.scope_filters(run.settings.project_ids))
        try:
            page = page_of(run.client.get(stream.path, params, label=LABEL), 1)
        except HTTPStatusError as exc:
            kind = "forbidden for this token" if exc.status == 403 else "not on this server"
            status = WARN if exc.status in (403, 404) else FAIL
            rows.append(Row(f"stream {name}", status, f"{kind} ({exc})"))
            continue
        except TapOpenProjectError as exc:
            rows.append(Row(f"stream {name}", FAIL, str(exc)))
            continue
        total = f"{page.total} records" if page.total is not None else "readable"
        rows.append(Row(f"stream {name}", OK, total))
    return rows


def render(rows: list[Row], exit_code: int) -> str:
    """The table and the verdict."""
    width = max(len(r.check) for r in rows)
    lines = [f"{'CHECK'.ljust(width)}  STATUS  DETAIL"]
    lines += [f"{r.check.ljust(width)}  {r.status.ljust(6)}  {r.detail}" for r in rows]
    if exit_code != EXIT_OK or any(r.status == FAIL for r in rows):
        verdict = "NOT READY: fix the FAIL rows, then run preflight again"
    elif any(r.status == WARN for r in rows):
        verdict = "READY WITH WARNINGS: the sync will run; read the WARN rows"
    else:
        verdict = "READY: schedule it"
    return "\n".join([*lines, "", f"Verdict: {verdict}"])


def main(argv: t.Sequence[str] | None = None) -> t.NoReturn:
    """Entry point of `tap-openproject-preflight --config FILE|ENV`."""
    parser = argparse.ArgumentParser(prog="tap-openproject-preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", default=[], help="config file, or ENV (repeatable)")
    args = parser.parse_args(argv)
    logs.configure()
    try:
        config = read_config([c for c in args.config if c != "ENV"] or None)
    except ConfigError as exc:
        print(render([Row("configuration", FAIL, str(exc))], EXIT_CONFIG))
        sys.exit(EXIT_CONFIG)
    if "ENV" in args.config:
        config = {**env_config(os.environ), **config}
    for path in args.config:
        if path != "ENV":
            warn_if_readable_by_others(path)
    rows, code = run_checks(config)
    if code == EXIT_OK and any(r.status == FAIL for r in rows):
        code = EXIT_SYNC_FAILED
    print(render(rows, code))
    sys.exit(code)


if __name__ == "__main__":
    main()
