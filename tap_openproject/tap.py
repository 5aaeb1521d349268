"""The Tap: settings, start-up checks, the list of streams, and what a run reports at the end."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import os
import sys
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePath
from urllib.parse import quote, urlsplit

from singer_sdk import Tap
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import StateMessage

from tap_openproject import logs
from tap_openproject.client import (
    _BODY,
    ApiKeyAuth,
    OpenProjectHTTPError,
    OpenProjectStream,
    ScopedSession,
    auth_error_for,
)
from tap_openproject.custom_fields import CustomFieldCatalog
from tap_openproject.errors import (
    EXIT_OK,
    EXIT_SYNC_FAILED,
    AuthError,
    ConfigError,
    Interrupted,
    SyncError,
    TapOpenProjectError,
)
from tap_openproject.hal import STRING, RecordShape
from tap_openproject.observability import RunStats, log_counters, write_textfile
from tap_openproject.resilience import Clock, Resilience
from tap_openproject.settings import (
    CONFIG_SCHEMA,
    format_datetime,
    prefixed_env_config,
    read_config_file,
    resolve,
    settings_of,
)
from tap_openproject.signals import GUARD, GuardedSingerWriter
from tap_openproject.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import Stream

PACKAGE_NAME = "openproject-singer-tap"


class _CurrentUser(OpenProjectStream):
    """Not a stream of the catalog: the start-up probe of /users/me, through the same request path."""

    name = "startup"
    path = "/users/me"
    shape = RecordShape(properties={"login": STRING})


class TapOpenProject(Tap):
    """Singer tap for OpenProject API v3."""

    #: Discovery reads the instance's custom fields, so --discover validates the configuration first.
    dynamic_catalog = True
    #: What this tap is tested for (the SDK's default list also claims BATCH). ACTIVATE_VERSION: full-table
    #: streams only, never the children of an incremental parent (see README, Deletions).
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [  # type: ignore[misc]
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        TapCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    name = "tap-openproject"
    package_name = PACKAGE_NAME
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = GuardedSingerWriter

    def __init__(
        self,
        *,
        config: dict | PurePath | str | list[PurePath | str] | None = None,
        catalog: PurePath | str | dict | None = None,
        state: PurePath | str | dict | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        clock: Clock | None = None,
        **kwargs: t.Any,
    ) -> None:
        raw = _read_config(config)
        if parse_env_config:  # `--config ENV`: TAP_OPENPROJECT_* override, as the SDK does it
            raw.update(prefixed_env_config(os.environ))
        resolved = resolve(raw)
        logs.configure(resolved["log_format"], secrets=[resolved["api_key"]])
        self.settings = settings_of(resolved, default_user_agent=f"tap-openproject/{_version()}")
        self.resilience = Resilience(
            max_retries=self.settings.max_retries,
            max_retry_wait=self.settings.max_retry_wait,
            breaker_threshold=self.settings.circuit_breaker_threshold,
            clock=clock,
            max_requests_per_second=self.settings.max_requests_per_second,
        )
        self.session = ScopedSession(self.settings.api_root, pool_size=self.settings.max_concurrency + 2)
        self._executor: ThreadPoolExecutor | None = None
        self.auth = ApiKeyAuth(self.settings.api_key)
        self.stats = RunStats(clock=self.resilience.clock, progress_interval=resolved["progress_interval"])
        self._metrics_path: str | None = resolved.get("metrics_path")
        self.unavailable: dict[str, str] = {}
        self._auth_lock = threading.Lock()
        self._authenticated = False
        self._custom_fields: CustomFieldCatalog | None = None
        #: Bookmarks never move past this (the sync's start, by the server's clock when it is earlier).
        self.bookmark_cap: str | None = None
        try:  # building the catalog already talks to the server (probe, custom fields)
            super().__init__(
                config=resolved,
                catalog=catalog,
                state=state,
                parse_env_config=False,
                validate_config=validate_config,
                setup_mapper=setup_mapper,
                **kwargs,
            )
        except BaseException:
            self.close()
            raise

    def discover_streams(self) -> list[Stream]:
        """Every stream of the catalog (custom fields are read from the instance first)."""
        return [stream_type(self) for stream_type in STREAM_TYPES]

    @property
    def custom_fields(self) -> CustomFieldCatalog:
        """The instance's custom fields, discovered once per run (after the credential probe)."""
        if self._custom_fields is None:
            self.ensure_authenticated()
            self._custom_fields = CustomFieldCatalog.discover(_CurrentUser(self))
        return self._custom_fields

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check as a backstop to `resolve`, reported without echoing any value."""
        errors = super()._validate_config(raise_errors=False)
        if errors and raise_errors:
            raise ConfigError(f"invalid configuration ({len(errors)} problem(s)); see the README's settings table")
        return errors

    # -- run-wide services used by the streams -----------------------------------------------------------------
    def ensure_authenticated(self) -> None:
        """Probe /users/me once per run, before the first stream request: wrong or anonymous credentials stop
        the run with exit code 3 instead of an empty (anonymous) extraction."""
        with self._auth_lock:
            if self._authenticated:
                return
            probe = _CurrentUser(self)
            try:
                response = probe.fetch_json(probe.path, {}, None)
            except OpenProjectHTTPError as exc:
                raise auth_error_for(exc.status, str(exc).removesuffix(" for GET /api/v3/users/me")) from None
            me = getattr(response, _BODY)
            self.bookmark_cap = _sync_start(response.headers.get("Date"))
            if not isinstance(me, dict) or not me.get("login"):
                raise AuthError(
                    "OpenProject answered as the anonymous user: the API key was not accepted and this instance "
                    "serves public data without login. Check api_key (and that the API's Basic auth is enabled)"
                )
            self.logger.info("Authenticated to %s as user %s", self.settings.api_root, me.get("id"))
            self._resolve_project_identifiers(probe)
            self._authenticated = True

    def _resolve_project_identifiers(self, probe: OpenProjectStream) -> None:
        """project_identifiers -> project ids, merged into project_ids before any stream request."""
        identifiers = self.settings.project_identifiers
        if not identifiers:
            return
        resolved: dict[str, int] = {}
        for identifier in identifiers:
            project = probe.fetch_optional(f"/projects/{quote(identifier, safe='')}")
            if not isinstance(project, dict) or not isinstance(project.get("id"), int):
                raise ConfigError(
                    f"project_identifiers: no project {identifier!r} on {urlsplit(self.settings.api_root).netloc} "
                    "that this token can see; check the identifier (the last part of the project's URL)"
                )
            resolved[identifier] = project["id"]
        project_ids = tuple(sorted(set(self.settings.project_ids) | set(resolved.values())))
        self.settings = self.settings._replace(project_ids=project_ids, project_identifiers=())
        self.logger.info(
            "Project scope: ids %s (%s)",
            ", ".join(map(str, project_ids)),
            ", ".join(f"{name} = {pid}" for name, pid in sorted(resolved.items())),
        )

    def count_request(self, stream_name: str) -> None:
        """Count one successful request (for the end-of-run summary)."""
        self.stats.request(stream_name)

    def is_unavailable(self, stream_name: str) -> bool:
        """True once a stream was found missing or forbidden in this run."""
        return stream_name in self.unavailable

    def mark_unavailable(self, stream_name: str, reason: str, context: Context | None) -> None:
        """A collection this server lacks (404) or this token may not read (403): skip it, or fail if asked."""
        if context and "404" in reason.split(" ", 1)[0]:
            # One parent vanished between listing it and reading its children (deleted meanwhile).
            self.logger.info("%s: %s is gone (%s); nothing to read for it", stream_name, dict(context), reason)
            return
        if self.settings.fail_on_unavailable_streams:
            raise SyncError(
                f"stream {stream_name} is unavailable ({reason}) and fail_on_unavailable_streams is set: "
                "grant the token access, or deselect the stream"
            )
        self.unavailable[stream_name] = reason
        self.logger.warning("Skipping stream %s: %s", stream_name, reason)

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The run's request pool (max_concurrency threads), created on first use."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.settings.max_concurrency, thread_name_prefix="openproject"
            )
        return self._executor

    def close(self) -> None:
        """Write out buffered messages, stop the request pool and close the HTTP session (every exit path)."""
        flush = getattr(getattr(self, "message_writer", None), "flush", None)
        if flush is not None:
            with contextlib.suppress(OSError, ValueError):  # stdout closed by the target: nothing more to deliver
                flush()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    # -- running ---------------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Probe, sync every selected stream, and always: write the last good state, summarise, close."""
        exit_code = EXIT_SYNC_FAILED
        try:
            self.ensure_authenticated()
            self.sync_all()
            exit_code = EXIT_OK
        except Interrupted as exc:
            GUARD.clear()
            exit_code = exc.exit_code
            raise
        except TapOpenProjectError as exc:
            exit_code = exc.exit_code
            raise
        finally:
            try:
                if exit_code != EXIT_OK:
                    self.write_last_state()
                self.log_summary()
                self.write_metrics(exit_code)
            finally:
                self.close()

    def write_metrics(self, exit_code: int) -> None:
        """The Prometheus textfile, if metrics_path is set; a failure to write it is logged, never fatal."""
        if not self._metrics_path:
            return
        try:
            write_textfile(
                self._metrics_path,
                stats=self.stats,
                counters=self.resilience.counters,
                unavailable=self.unavailable,
                exit_code=exit_code,
                finished=time.time(),
            )
        except OSError as exc:
            self.logger.warning("Could not write metrics to %s: %s", self._metrics_path, exc.strerror or exc)

    def write_last_state(self) -> None:
        """Emit the state as it stands, as the last message: bookmarks only ever cover delivered records."""
        try:
            self.message_writer.write_message(StateMessage(value=self.state))
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout closed by the target: nothing more can be delivered
            self.logger.warning("Could not write the last state: stdout is closed")

    def log_summary(self) -> None:
        """Final lines: one per stream (records, requests, failed attempts, waits, duration), the run's totals
        and resilience counters (also as METRIC lines), and the skipped streams."""
        counters = self.resilience.counters
        for line in self.stats.summary_lines(self.unavailable):
            self.logger.info("Summary %s", line)
        self.logger.info(
            "Run summary: %d records, %d requests; %d retries, %d rate-limit waits, %.1f s waited, breaker %s",
            sum(s.records for s in self.stats.streams.values()),
            sum(s.requests for s in self.stats.streams.values()),
            counters.retries,
            counters.rate_limit_waits,
            counters.waited_seconds,
            "open" if self.resilience.is_open else "closed",
        )
        log_counters(counters)
        if self.unavailable:
            self.logger.warning(
                "Skipped streams: %s",
                "; ".join(f"{name} ({reason})" for name, reason in sorted(self.unavailable.items())),
            )

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """SIGINT/SIGTERM: unwind (after the message being written, if any); `run` writes the last state and the
        CLI exits 130/143. The SDK's own handler would write from inside the handler and exit 0."""
        GUARD.handle(signum)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """The sync command: like the SDK's, plus the probe, last-state-on-failure, summary and cleanup."""
        if about:
            cls.print_about(about_format)
            return
        cls.print_version(print_fn=cls.logger.info)
        tap = cls(
            config=config.config if config else None,
            state=None if state is None else json.loads(state.read()),
            catalog=None if catalog is None else json.loads(catalog.read()),
            parse_env_config=bool(config and config.parse_env),
            validate_config=True,
        )
        tap.run()


def _sync_start(server_date: str | None) -> str:
    """The sync's start as a canonical timestamp: the earlier of our clock and the server's Date header, so a
    server whose clock runs behind ours still gets a bookmark at or before its own "now"."""
    now = dt.datetime.now(dt.timezone.utc)
    if server_date:
        with contextlib.suppress(TypeError, ValueError):  # no usable Date header: our clock alone
            now = min(now, email.utils.parsedate_to_datetime(server_date).astimezone(dt.timezone.utc))
    return format_datetime(now.replace(microsecond=0))


def _read_config(config: dict | PurePath | str | list[PurePath | str] | None) -> dict[str, t.Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    merged: dict[str, t.Any] = {}
    for path in config if isinstance(config, list) else [config]:
        merged.update(read_config_file(path))
    return merged


def _version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "0+unknown"
