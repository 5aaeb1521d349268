"""Before any stream: prove the credentials, take the sync's start from the server's clock, and resolve project
identifiers to ids. Plain functions on the client, shared by the tap and preflight."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import typing as t
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from tap_openproject.errors import AuthError, ConfigError, HTTPStatusError
from tap_openproject.observability import STARTUP
from tap_openproject.timeutil import format_datetime, utc_now

if t.TYPE_CHECKING:
    from tap_openproject.http import OpenProjectClient

ME_PATH = "/users/me"


@dataclass(frozen=True)
class Identity:
    """Who the token reads as, and when the sync started."""

    user: dict[str, t.Any]
    #: The sync's start as a canonical timestamp: bookmarks never move past it.
    sync_start: str


def probe_credentials(client: OpenProjectClient) -> Identity:
    """GET /users/me: wrong or anonymous credentials stop the run (exit 3) instead of an empty extraction."""
    try:
        response = client.get(ME_PATH, label=STARTUP)
    except HTTPStatusError as exc:
        detail = str(exc).removesuffix(f" for GET {urlsplit(client.api_root).path}{ME_PATH}")
        raise auth_error_for(exc.status, detail) from None
    me = response.body
    if not isinstance(me, dict) or not me.get("login"):
        raise AuthError(
            "OpenProject answered as the anonymous user: the API key was not accepted and this instance "
            "serves public data without login. Check api_key (and that the API's Basic auth is enabled)"
        )
    return Identity(me, sync_start(response.date))


def auth_error_for(status: int, detail: str) -> AuthError:
    """The start-up error for a rejected probe of /users/me."""
    if status == 401:
        return AuthError(
            f"OpenProject rejected the API key ({detail}): check api_key, or create a new token under "
            "My account > Access tokens"
        )
    return AuthError(f"OpenProject refused /users/me ({detail}): check that the token's user is active")


def sync_start(server_date: str | None, now: dt.datetime | None = None) -> str:
    """The earlier of our clock and the server's Date header, so a server whose clock runs behind ours still gets
    a bookmark at or before its own "now"."""
    start = now or utc_now()
    if server_date:
        with contextlib.suppress(TypeError, ValueError):  # no usable Date header: our clock alone
            start = min(start, email.utils.parsedate_to_datetime(server_date).astimezone(dt.timezone.utc))
    return format_datetime(start.replace(microsecond=0))


def resolve_project_identifiers(client: OpenProjectClient, identifiers: t.Iterable[str]) -> dict[str, int]:
    """project_identifiers -> project ids; an identifier the token cannot see is a configuration error."""
    resolved: dict[str, int] = {}
    for identifier in identifiers:
        response = client.get_optional(f"/projects/{quote(identifier, safe='')}", label=STARTUP)
        project = response.body if response is not None else None
        if not isinstance(project, dict) or not isinstance(project.get("id"), int):
            raise ConfigError(
                f"project_identifiers: no project {identifier!r} on {urlsplit(client.api_root).netloc} "
                "that this token can see; check the identifier (the last part of the project's URL)"
            )
        resolved[identifier] = project["id"]
    return resolved
