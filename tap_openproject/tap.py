"""The Tap: settings, the run context, the list of streams, and what a run reports at the end."""

from __future__ import annotations

import gc
import os
import sys
import time
import typing as t

from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import StateMessage

from tap_openproject import logs
from tap_openproject.errors import EXIT_OK, EXIT_SYNC_FAILED, Interrupted, TapOpenProjectError, TargetGone
from tap_openproject.inputs import prepare_inputs, read_document
from tap_openproject.interrupt import INTERRUPT
from tap_openproject.observability import log_run_summary, write_textfile
from tap_openproject.runtime import RunContext
from tap_openproject.sdk_hooks import TapHooks
from tap_openproject.settings import (
    CONFIG_SCHEMA,
    PACKAGE_NAME,
    default_user_agent,
    prefixed_env_config,
    read_config,
    resolve,
    settings_of,
)
from tap_openproject.streams import STREAM_TYPES
from tap_openproject.writer import BlockWriter

if t.TYPE_CHECKING:
    from pathlib import PurePath

    from singer_sdk.streams import Stream

    from tap_openproject.inputs import Document
    from tap_openproject.timeutil import Clock

#: Young objects allocated between two cyclic collections during a sync (Python's default is 700).
GC_THRESHOLD = 50_000


def relax_garbage_collection() -> None:
    """Before the sync: decoded pages are trees of fresh dicts and lists without reference cycles, yet every 700
    of them trigger a cyclic collection that walks the whole heap (the SDK, the catalog, pages in flight). That
    tripled the cost of decoding a page (bench: record_path). The objects of the start-up are moved out of the
    collector's view (gc.freeze) and it runs every GC_THRESHOLD allocations instead; memory is still freed as
    soon as it is unreferenced, and cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, older, oldest)


class TapOpenProject(TapHooks):
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
    message_writer_class = BlockWriter

    def __init__(
        self,
        *,
        config: dict | PurePath | str | list[PurePath | str] | None = None,
        catalog: PurePath | str | dict | Document | None = None,
        state: PurePath | str | dict | Document | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        clock: Clock | None = None,
        **kwargs: t.Any,
    ) -> None:
        raw = read_config(config)
        if parse_env_config:  # `--config ENV`: TAP_OPENPROJECT_* override, as the SDK does it
            raw.update(prefixed_env_config(os.environ))
        resolved = resolve(raw)
        logs.configure(resolved["log_format"], secrets=[resolved["api_key"]])
        settings = settings_of(resolved, default_user_agent=default_user_agent())
        self.run_context = RunContext(settings, clock=clock, progress_interval=resolved["progress_interval"])
        self._metrics_path: str | None = resolved.get("metrics_path")
        inputs = prepare_inputs(state, catalog, STREAM_TYPES)  # before any request: a broken file is exit 2
        try:  # building the catalog already talks to the server (probe, custom fields)
            super().__init__(
                config=resolved,
                catalog=inputs.catalog,
                state=inputs.state,
                parse_env_config=False,
                validate_config=validate_config,
                setup_mapper=setup_mapper,
                **kwargs,
            )
            if inputs.state:  # the probe fixed the sync's start: no bookmark may be ahead of it
                self.run_context.start()
                inputs.hold_back_future_bookmarks(self.state, self.run_context.bookmark_cap)
        except BaseException:
            self.close()
            raise

    def discover_streams(self) -> list[Stream]:
        """Every stream of the catalog (without a catalog, custom fields are read from the instance first)."""
        self.run_context.catalog_supplied = self.input_catalog is not None
        return [stream_type(self, self.run_context) for stream_type in STREAM_TYPES]

    def close(self) -> None:
        """Write out buffered messages, stop the request pool and close the HTTP session (every exit path)."""
        flush = getattr(getattr(self, "message_writer", None), "flush", None)
        try:
            if flush is not None:
                flush()  # a closed stdout raises TargetGone: the last messages did not reach the target
        finally:
            self.run_context.close()

    def run(self) -> None:
        """Probe, sync every selected stream, and always: write the last good state, summarise, close."""
        exit_code = EXIT_SYNC_FAILED
        target_gone = False
        relax_garbage_collection()
        try:
            self.run_context.start()
            self.sync_all()
            self.state_writer.write_state(self.state)  # if a child's last STATE waited for the cadence
            if not getattr(self.message_writer, "ends_with_state", True):  # the state did not change at the end
                self.write_last_state()
            exit_code = EXIT_OK
        except TargetGone:
            target_gone = True
            raise
        except Interrupted as exc:
            INTERRUPT.clear()
            exc.during_sync = True
            exit_code = exc.exit_code
            raise
        except TapOpenProjectError as exc:
            exit_code = exc.exit_code
            raise
        finally:
            try:
                if exit_code != EXIT_OK and not target_gone:
                    self.write_last_state()
                run = self.run_context
                log_run_summary(run.stats, run.counters, run.unavailable.reasons, breaker_open=run.guard.is_open)
                self.write_metrics(exit_code)
            finally:
                self.close()

    def write_metrics(self, exit_code: int) -> None:
        """The Prometheus textfile, if metrics_path is set; a failure to write it is logged, never fatal."""
        if not self._metrics_path:
            return
        run = self.run_context
        try:
            write_textfile(
                self._metrics_path,
                stats=run.stats,
                counters=run.counters,
                unavailable=run.unavailable.reasons,
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
        except (TargetGone, OSError, ValueError):  # stdout closed by the target: nothing more can be delivered
            self.logger.warning("Could not write the last state: stdout is closed")

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
            state=None if state is None else read_document(state, "state"),
            catalog=None if catalog is None else read_document(catalog, "catalog"),
            parse_env_config=bool(config and config.parse_env),
            validate_config=True,
        )
        tap.run()

