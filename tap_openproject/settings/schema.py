"""The settings table: every setting's name, type, default and description, as the config JSON schema that
`--about`, the README's table and Meltano read."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG

#: The PyPI name "tap-openproject" belongs to an unrelated project; the executable keeps that name.
PACKAGE_NAME = "openproject-singer-tap"
API_PREFIX = "/api/v3"
ENV_PREFIX = "TAP_OPENPROJECT_"
#: Short aliases people already use for OpenProject credentials.
ENV_ALIASES = {"OPENPROJECT_API_KEY": "api_key", "OPENPROJECT_BASE_URL": "base_url"}

DEFAULTS: dict[str, t.Any] = {
    "page_size": 1000,
    "timeout": 30,
    "max_retries": 5,
    "max_retry_wait": 300,
    "circuit_breaker_threshold": 5,
    "allow_insecure_http": False,
    "fail_on_unavailable_streams": False,
    "detect_deletions": False,
    "log_format": "text",
    "max_concurrency": 8,
    "progress_interval": 5,
    "lookback_seconds": 300,
    "state_interval_seconds": 5,
}

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        title="Base URL",
        description="OpenProject instance URL, with or without a trailing /api/v3. Must be https "
        "(plain http only for loopback hosts or with allow_insecure_http).",
        examples=["https://openproject.example.com"],
    ),
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        title="API key",
        description="API token of the OpenProject user the tap reads as (My account > Access tokens). "
        "Sent as HTTP Basic apikey:<token>.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="ISO 8601 date or date-time; incremental streams only fetch records updated at or after it "
        "(sent to the server as an updatedAt filter).",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=DEFAULTS["page_size"],
        title="Page size",
        description="Elements requested per page. The server silently caps it (apiv3_max_page_size, 1000 by "
        "default); the tap reads back the size the server used.",
    ),
    th.Property(
        "project_ids",
        th.ArrayType(th.IntegerType),
        title="Project IDs",
        description="Only extract these projects. Every project-scoped stream is restricted on the server side: a "
        "project filter, per-project routes (versions), or only the scoped parents' children.",
    ),
    th.Property(
        "project_identifiers",
        th.ArrayType(th.StringType),
        title="Project identifiers",
        description="Only extract these projects, named by identifier (the name in the project's URL). Resolved "
        "to ids through the API at start-up and merged with project_ids; an unknown identifier stops the run.",
    ),
    th.Property(
        "detect_deletions",
        th.BooleanType,
        default=DEFAULTS["detect_deletions"],
        title="Detect deletions",
        description="With work_packages: also sweep the ids of all work packages and emit a record "
        "{id, _sdc_deleted_at} for each one deleted since the last run (the first run sets the baseline).",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User agent",
        description="User-Agent header sent with every request (default: tap-openproject/<version>).",
    ),
    th.Property(
        "timeout",
        th.NumberType,
        default=DEFAULTS["timeout"],
        title="Timeout",
        description="Connect and read timeout in seconds for every request.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULTS["max_retries"],
        title="Max retries",
        description="Retries after a failed attempt (connection error, timeout, 429, 5xx, undecodable body).",
    ),
    th.Property(
        "max_retry_wait",
        th.NumberType,
        default=DEFAULTS["max_retry_wait"],
        title="Max retry wait",
        description="Longest single wait in seconds, also when the server asks for more with Retry-After or "
        "RateLimit-Reset; a longer request fails the run.",
    ),
    th.Property(
        "circuit_breaker_threshold",
        th.IntegerType,
        default=DEFAULTS["circuit_breaker_threshold"],
        title="Circuit breaker threshold",
        description="Consecutive failed attempts, across all requests, after which the run stops: the server "
        "is treated as unavailable.",
    ),
    th.Property(
        "allow_insecure_http",
        th.BooleanType,
        default=DEFAULTS["allow_insecure_http"],
        title="Allow insecure HTTP",
        description="Allow a plain http base_url for a non-loopback host (the token then travels unencrypted).",
    ),
    th.Property(
        "fail_on_unavailable_streams",
        th.BooleanType,
        default=DEFAULTS["fail_on_unavailable_streams"],
        title="Fail on unavailable streams",
        description="Fail the run when a selected stream's collection is missing (404) or forbidden (403) "
        "instead of skipping it with a warning.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=8,
        title="Max concurrency",
        description="Requests in flight at once (page fetches, time windows, child collections); 1 makes the tap "
        "fully sequential. Output order and state do not depend on it.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType,
        title="Max requests per second",
        description="Optional politeness limit across all concurrent requests.",
    ),
    th.Property(
        "progress_interval",
        th.NumberType,
        default=5,
        title="Progress interval",
        description="Seconds between progress lines (records so far of the total, percentage, rate, ETA) on "
        "stderr; 0 turns them off.",
    ),
    th.Property(
        "lookback_seconds",
        th.NumberType,
        default=DEFAULTS["lookback_seconds"],
        title="Lookback seconds",
        description="Incremental streams read again this many seconds before the bookmark, so a save that "
        "commits late (a long transaction, its updatedAt older than its commit) is still delivered; versions "
        "already delivered are not delivered again. 0 turns it off.",
    ),
    th.Property(
        "state_interval_seconds",
        th.NumberType,
        default=DEFAULTS["state_interval_seconds"],
        title="State interval seconds",
        description="Besides after every page of records, a STATE message is written at the latest this many "
        "seconds after a record it would cover, so a killed run re-reads little; 0: after every page only.",
    ),
    th.Property(
        "metrics_path",
        th.StringType,
        title="Metrics path",
        description="Write a Prometheus textfile here at the end of every run (for node-exporter's textfile "
        "collector): last run time, success, exit code, duration, records, requests, retries, skipped streams.",
    ),
    th.Property(
        "log_format",
        th.StringType,
        default=DEFAULTS["log_format"],
        allowed_values=["text", "json"],
        title="Log format",
        description="text (human-readable) or json (one JSON object per line on stderr).",
    ),
).to_dict()

# The SDK's switch for ACTIVATE_VERSION (it does not add it to the schema itself), described as this tap uses it.
CONFIG_SCHEMA["properties"]["emit_activate_version_messages"] = {
    **EMIT_ACTIVATE_VERSION_CONFIG["properties"]["emit_activate_version_messages"],
    "description": "Emit ACTIVATE_VERSION for full-table streams, so a target can retire rows the source no "
    "longer has. Never for categories, activities and attachments: a run reads them only for the parents it "
    "delivers.",
}
SETTING_NAMES = frozenset(CONFIG_SCHEMA["properties"])
#: Settings the SDK adds to every tap (stream maps, flattening, batching ...): known, not ours to validate.
SDK_SETTING_NAMES = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
        "emit_activate_version_messages",
    }
)
