"""The Tap: settings, start-up checks, the list of streams, and what a run reports at the end."""

from __future__ import annotations

import collections
import json
import sys
import threading
import typing as t
from pathlib import PurePath

from singer_sdk import Tap
from singer_sdk.helpers._util import read_json_file
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import StateMessage

from tap_openproject import logs
from tap_openproject.client import _BODY, ApiKeyAuth, OpenProjectHTTPError, OpenProjectStream, ScopedSession, auth_error_for
from tap_openproject.custom_fields import CustomFieldCatalog
from tap_openproject.errors import AuthError, ConfigError, Interrupted, SyncError
from tap_openproject.hal import STRING, RecordShape
from tap_openproject.resilience import Clock, Resilience
from tap_openproject.signals import GUARD, GuardedSingerWriter
from tap_openproject.settings import CONFIG_SCHEMA, ENV_PREFIX, SETTING_NAMES, resolve, settings_of
from tap_openproject.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import Stream

PACKAGE_NAME = "openproject-singer-tap"


class _CurrentUser(OpenProjectStream):
    """Not a stream of the catalog: the start-up probe of /users/me, through the same request path."""

    name = "users_me"
    path = "/users/me"
    shape = RecordShape(properties={"login": STRING})


class TapOpenProject(Tap):
    """Singer tap for OpenProject API v3."""

    #: Discovery reads the instance's custom fields, so --discover validates the configuration first.
    dynamic_catalog = True
    #: What this tap is tested for (the SDK's default list also claims BATCH and ACTIVATE_VERSION).
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [  # type: ignore[misc]
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
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
            raw.update({n: v for n in SETTING_NAMES if (v := _env(ENV_PREFIX + n.upper()))})
        resolved = resolve(raw)
        logs.configure(resolved["log_format"], secrets=[resolved["api_key"]])
        self.settings = settings_of(resolved, default_user_agent=f"tap-openproject/{_version()}")
        self.resilience = Resilience(
            max_retries=self.settings.max_retries,
            max_retry_wait=self.settings.max_retry_wait,
            breaker_threshold=self.settings.circuit_breaker_threshold,
            clock=clock,
        )
        self.session = ScopedSession(self.settings.api_root)
        self.auth = ApiKeyAuth(self.settings.api_key)
        self.requests_per_stream: collections.Counter[str] = collections.Counter()
        self.unavailable: dict[str, str] = {}
        self._auth_lock = threading.Lock()
        self._authenticated = False
        self._count_lock = threading.Lock()
        self._custom_fields: CustomFieldCatalog | None = None
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
            if not isinstance(me, dict) or not me.get("login"):
                raise AuthError(
                    "OpenProject answered as the anonymous user: the API key was not accepted and this instance "
                    "serves public data without login. Check api_key (and that the API's Basic auth is enabled)"
                )
            self.logger.info("Authenticated to %s as user %s", self.settings.api_root, me.get("id"))
            self._authenticated = True

    def count_request(self, stream_name: str) -> None:
        """Count one successful request (for the end-of-run summary)."""
        with self._count_lock:
            self.requests_per_stream[stream_name] += 1

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

    def close(self) -> None:
        """Close the HTTP session (every exit path calls this)."""
        self.session.close()

    # -- running ---------------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Probe, sync every selected stream, and always: write the last good state, summarise, close."""
        failed = True
        try:
            self.ensure_authenticated()
            self.sync_all()
            failed = False
        except Interrupted:
            GUARD.clear()
            raise
        finally:
            try:
                if failed:
                    self.write_last_state()
                self.log_summary()
            finally:
                self.close()

    def write_last_state(self) -> None:
        """Emit the state as it stands, as the last message: bookmarks only ever cover delivered records."""
        try:
            self.message_writer.write_message(StateMessage(value=self.state))
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout closed by the target: nothing more can be delivered
            self.logger.warning("Could not write the last state: stdout is closed")

    def log_summary(self) -> None:
        """Final lines: requests per stream, resilience counters, skipped streams."""
        counters = self.resilience.counters
        self.logger.info(
            "Run summary: %d requests (%s); %d retries, %d rate-limit waits, %.1f s waited, breaker %s",
            sum(self.requests_per_stream.values()),
            json.dumps(dict(sorted(self.requests_per_stream.items()))),
            counters.retries,
            counters.rate_limit_waits,
            counters.waited_seconds,
            "open" if self.resilience.is_open else "closed",
        )
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


def _read_config(config: dict | PurePath | str | list[PurePath | str] | None) -> dict[str, t.Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    paths = config if isinstance(config, list) else [config]
    merged: dict[str, t.Any] = {}
    for path in paths:
        try:
            merged.update(read_json_file(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config file {path}: {type(exc).__name__}; pass a JSON object file") from None
    return merged


def _env(name: str) -> str | None:
    import os  # noqa: PLC0415 - keep module import side-effect free

    return os.environ.get(name) or None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "0+unknown"
