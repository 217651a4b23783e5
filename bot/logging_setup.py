"""Owns log output: text or JSON lines, customer numbers masked, secrets never printed."""

from __future__ import annotations

import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from advisors.numbers import mask_phone
from bot.settings import Settings

_PHONE = re.compile(r"(?<![\w.])(?<![0-9a-fA-F]{4}-)\+?\d{10,15}\b")  # not the last group of a UUID
_ROUTING_FIELDS = ("advisor", "advisor_number", "customer", "conversation", "direction", "sid")
# uvicorn adds `color_message`, a duplicate of the message with terminal colours.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


# Our own Twilio numbers are routing facts, not customers' data: the one field left unmasked.
_OWN_NUMBER_FIELDS = frozenset({"advisor_number"})
MAX_LOGGED_CHARS = 1_000
MAX_TRACEBACK_LINES = 80
_FORMATTER = logging.Formatter()
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}")


class SafeRecordFilter(logging.Filter):
    """Makes every field of a record safe to print, before any handler sees it.

    Secrets are redacted and customer numbers masked in the message and in every `extra` field
    (nested dicts and lists included: the job queue logs whole jobs); control characters are
    escaped, so a caller cannot forge log lines, and long values are cut, so a caller cannot
    flood the log. Tracebacks (`exc_info`) keep their lines, each cleaned and cut the same way,
    and at most `MAX_TRACEBACK_LINES` of them: an exception's message may hold what a caller
    sent (a 1 MB field once wrote 1 MB of traceback).
    """

    def __init__(self, secrets: list[str], *, mask_phones: bool) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]
        self._mask_phones = mask_phones

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg, record.args = self._clean(record.getMessage()), None
        if record.exc_info or record.exc_text:
            record.exc_text = self._traceback(record)
            record.exc_info = None
        for name, value in list(vars(record).items()):
            if name in _STANDARD_ATTRIBUTES:
                continue
            setattr(record, name, self._clean(value, mask=name not in _OWN_NUMBER_FIELDS))
        return True

    def _traceback(self, record: logging.LogRecord) -> str:
        text = record.exc_text or _FORMATTER.formatException(record.exc_info)  # type: ignore[arg-type]
        lines = [str(self._clean(line)) for line in text.splitlines()]
        if len(lines) > MAX_TRACEBACK_LINES:  # keep the outermost frames and the exception itself
            half = MAX_TRACEBACK_LINES // 2
            lines = [*lines[:half], f"…[{len(lines) - 2 * half} more lines]", *lines[-half:]]
        return "\n".join(lines)

    def _clean(self, value: object, *, mask: bool = True, escape: bool = True) -> object:
        if isinstance(value, str):
            text = value
            for secret in self._secrets:
                text = text.replace(secret, "[redacted]")
            if self._mask_phones and mask:
                text = _PHONE.sub(lambda match: mask_phone(match.group(0)), text)
            if escape:
                text = _CONTROL.sub(_escape, text)
            if len(text) > MAX_LOGGED_CHARS:
                text = f"{text[:MAX_LOGGED_CHARS]}…[{len(text) - MAX_LOGGED_CHARS} more chars]"
            return text
        if isinstance(value, dict):
            return {key: self._clean(item, mask=mask) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(item, mask=mask) for item in value]
        return value


class _TextFormatter(logging.Formatter):
    """A plain line followed by the facts passed as `extra`, routing facts first."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [name for name in vars(record) if name not in _STANDARD_ATTRIBUTES]
        ordered = [name for name in _ROUTING_FIELDS if name in extra]
        ordered += sorted(name for name in extra if name not in _ROUTING_FIELDS)
        facts = [f"{name}={getattr(record, name)}" for name in ordered]
        return f"{line} {' '.join(facts)}" if facts else line


def configure_logging(settings: Settings) -> None:
    """Install the root handler once per process, as LOG_FORMAT and LOG_LEVEL say."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False))
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secrets = [
        value.get_secret_value()
        for value in (
            settings.twilio_auth_token,
            settings.openai_api_key,
            settings.twilio_webhook_signing_key,
            settings.admin_token,
            settings.event_webhook_secret,
            settings.media_signing_key,
            settings.supabase_service_role_key,
        )
        if value is not None
    ]
    handler.addFilter(SafeRecordFilter(secrets, mask_phones=settings.log_mask_phones))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_advisor_bot", False):
            root.removeHandler(existing)
    handler._advisor_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # These libraries log request details (URLs with account ids, headers) at INFO/DEBUG.
    for noisy in (
        "twilio.http_client",
        "twilio.async_http_client",  # the worker's client (bot.twilio.sender)
        "httpx",
        "httpx2",
        "httpcore",
        "openai",
        "procrastinate",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
