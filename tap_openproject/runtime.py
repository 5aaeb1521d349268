"""RunContext: what one run's streams share, handed to each of them (no stream imports the tap).

Settings, the client and its guard, the request pool, statistics, the bookmark cap and the STATE cadence, the streams
found unavailable and the custom fields, plus the start-up step (credential probe, project identifiers) that runs once
before the first stream request.
"""

from __future__ import annotations

import logging
import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_openproject.bookmarks import StateCadence
from tap_openproject.custom_fields import CustomFieldCatalog
from tap_openproject.errors import SyncError
from tap_openproject.http import Guard, OpenProjectClient, RetryPolicy
from tap_openproject.observability import Counters, RunStats
from tap_openproject.paging import Pager
from tap_openproject.startup import probe_credentials, resolve_project_identifiers
from tap_openproject.timeutil import Clock
from tap_openproject.typed import TypedPages

if t.TYPE_CHECKING:
    from tap_openproject.hal import RecordShape
    from tap_openproject.settings import Settings

logger = logging.getLogger("tap-openproject")


class Unavailable:
    """Streams whose collection this server lacks (404) or this token may not read (403) in this run."""

    def __init__(self, *, fatal: bool) -> None:
        self.fatal = fatal
        self.reasons: dict[str, str] = {}

    def __contains__(self, stream: object) -> bool:
        return stream in self.reasons

    def mark(self, stream: str, reason: str, context: t.Mapping[str, t.Any] | None) -> None:
        """Skip the stream from now on, with one warning, or fail the run if fail_on_unavailable_streams."""
        if context and "404" in reason.split(" ", 1)[0]:
            # One parent vanished between listing it and reading its children (deleted meanwhile).
            logger.info("%s: %s is gone (%s); nothing to read for it", stream, dict(context), reason)
            return
        if self.fatal:
            raise SyncError(
                f"stream {stream} is unavailable ({reason}) and fail_on_unavailable_streams is set: "
                "grant the token access, or deselect the stream"
            )
        self.reasons[stream] = reason
        logger.warning("Skipping stream %s: %s", stream, reason)


class RunContext:
    """One run's shared services."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, progress_interval: float = 5.0) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.counters = Counters()
        self.stats = RunStats(clock=self.clock, progress_interval=progress_interval)
        self.guard = Guard(
            breaker_threshold=settings.circuit_breaker_threshold,
            clock=self.clock,
            counters=self.counters,
            max_requests_per_second=settings.max_requests_per_second,
        )
        self.client = OpenProjectClient(
            api_root=settings.api_root,
            api_key=settings.api_key,
            user_agent=settings.user_agent,
            timeout=settings.timeout,
            pool_size=settings.max_concurrency + 2,
            policy=RetryPolicy(max_retries=settings.max_retries, max_wait=settings.max_retry_wait),
            guard=self.guard,
            stats=self.stats,
        )
        self.pager = Pager(
            self.client,
            page_size=settings.page_size,
            concurrency=settings.max_concurrency,
            pool=self.executor,
            stats=self.stats,
            clock=self.clock,
        )
        self.unavailable = Unavailable(fatal=settings.fail_on_unavailable_streams)
        #: STATE after every page's worth of records (page_size, at most the server's usual maximum, 1000) and at
        #: the latest state_interval_seconds after a record it covers.
        self.state_cadence = StateCadence(
            records=min(settings.page_size, 1000), interval=settings.state_interval_seconds, clock=self.clock
        )
        #: Bookmarks never move past this (the sync's start, by the server's clock when it is earlier).
        self.bookmark_cap: str | None = None
        #: A catalog was supplied: stream schemas (custom-field columns included) come from it, not from the server.
        self.catalog_supplied = False
        self._executor: ThreadPoolExecutor | None = None
        self._custom_fields: CustomFieldCatalog | None = None
        self._start_lock = threading.Lock()
        self._started = False
        self._page_decoders: dict[int, TypedPages] = {}

    def start(self) -> None:
        """Once per run, before the first stream request: probe the credentials and resolve project_identifiers."""
        with self._start_lock:
            if self._started:
                return
            identity = probe_credentials(self.client)
            self.bookmark_cap = identity.sync_start
            logger.info("Authenticated to %s as user %s", self.settings.api_root, identity.user.get("id"))
            self._resolve_identifiers()
            self._started = True

    def _resolve_identifiers(self) -> None:
        identifiers = self.settings.project_identifiers
        if not identifiers:
            return
        resolved = resolve_project_identifiers(self.client, identifiers)
        project_ids = tuple(sorted(set(self.settings.project_ids) | set(resolved.values())))
        self.settings = self.settings._replace(project_ids=project_ids, project_identifiers=())
        logger.info(
            "Project scope: ids %s (%s)",
            ", ".join(map(str, project_ids)),
            ", ".join(f"{name} = {pid}" for name, pid in sorted(resolved.items())),
        )

    @property
    def custom_fields(self) -> CustomFieldCatalog:
        """The instance's custom fields, discovered once per run (after the credential probe)."""
        if self._custom_fields is None:
            self.start()
            self._custom_fields = CustomFieldCatalog.discover(self.pager, self.settings.project_ids)
        return self._custom_fields

    def page_decoder(self, shape: RecordShape) -> TypedPages | None:
        """The typed page decoder of a stream's shape, one per shape and run (see typed.py); None for a shape
        whose flatten adds columns of its own (a RecordShape subclass): its pages stay dicts."""
        if not TypedPages.handles(shape):
            return None
        decoder = self._page_decoders.get(id(shape))
        if decoder is None:  # a child's first queries may come from several request threads at once
            decoder = self._page_decoders.setdefault(id(shape), TypedPages(shape))
        return decoder

    def executor(self) -> ThreadPoolExecutor:
        """The run's request pool (max_concurrency threads), created on first use."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.settings.max_concurrency, thread_name_prefix="openproject"
            )
        return self._executor

    def close(self) -> None:
        """Stop the request pool and close the HTTP session (every exit path)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()
