"""Logging: stderr only, text or JSON lines, and secret redaction on every handler.

Redaction is the second line of defence: the tap never puts the API key into a message in the first place
(it travels only in the Authorization header), but a filter on every handler replaces the key, and the Basic
credential derived from it, wherever they might still appear, tracebacks included.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import typing as t
import uuid
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter

RUN_ID = uuid.uuid4().hex[:12]
LOGGER_NAME = "tap-openproject"
REDACTED = "[REDACTED]"
_JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def secret_forms(secret: str) -> set[str]:
    """Every form in which a secret could leak: itself, URL-quoted, and the Basic credential built from it."""
    forms = {secret, quote(secret, safe="")}
    basic = base64.b64encode(f"apikey:{secret}".encode()).decode()
    forms.add(basic)
    return {f for f in forms if len(f) >= 4}


class RedactingFilter(logging.Filter):
    """Replaces known secrets in a record's message, arguments and traceback text."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        """Start redacting this secret (and its derived forms)."""
        self._secrets |= secret_forms(secret)

    def redact(self, text: str) -> str:
        """The text with every known secret replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API name
        """Rewrite the record in place; never drops it."""
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must still be logged, and still be redacted
            message = str(record.msg)
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ContextFilter(logging.Filter):
    """Adds the run id and, for stream loggers (tap-openproject.<stream>), the stream name."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API name
        """Annotate; never drops."""
        record.run_id = RUN_ID
        if not hasattr(record, "stream") and record.name.startswith(LOGGER_NAME + "."):
            record.stream = record.name.split(".", 2)[1]
        return True


REDACTOR = RedactingFilter()
_CONTEXT = ContextFilter()


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, run_id, stream where known, extras."""
    return JsonFormatter(
        _JSON_FORMAT,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure(log_format: str = "text", secrets: t.Iterable[str] = ()) -> None:
    """Route every log line to stderr with redaction, in the chosen format.

    When Meltano (or the user) supplies a logging config through SINGER_SDK_LOG_CONFIG, its formatters win and
    only the filters are added.
    """
    for secret in secrets:
        if secret:
            REDACTOR.add(secret)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    use_json = log_format == "json" or os.environ.get("TAP_OPENPROJECT_LOG_FORMAT", "").lower() == "json"
    external_config = "SINGER_SDK_LOG_CONFIG" in os.environ
    for handler in _all_handlers():
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            # stdout carries Singer messages only.
            handler.setStream(sys.stderr)
        if REDACTOR not in handler.filters:
            handler.addFilter(_CONTEXT)
            handler.addFilter(REDACTOR)
        if use_json and not external_config and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(json_formatter())


def _all_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    return handlers
