"""Owns log output: text or JSON lines, customer numbers masked, secrets never printed."""

from __future__ import annotations

import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from advisors.numbers import mask_phone
from bot.settings import Settings

_PHONE = re.compile(r"(?<![\w.])\+?\d{10,15}\b")
_ROUTING_FIELDS = ("advisor", "advisor_number", "customer", "conversation", "direction", "sid")


class MaskPhonesFilter(logging.Filter):
    """Masks customer numbers in messages and routing fields before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = _PHONE.sub(lambda match: mask_phone(match.group(0)), record.msg)
        customer = getattr(record, "customer", None)
        if isinstance(customer, str):
            record.customer = mask_phone(customer)
        return True


class RedactSecretsFilter(logging.Filter):
    """Replaces configured secret values wherever they would appear in a log line."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if not self._secrets:
            return True
        message = record.getMessage()
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        return True


# uvicorn adds `color_message`, a duplicate of the message with terminal colours.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


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
    handler.addFilter(RedactSecretsFilter(secrets))
    if settings.log_mask_phones:
        handler.addFilter(MaskPhonesFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_advisor_bot", False):
            root.removeHandler(existing)
    handler._advisor_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # These libraries log request details (URLs with account ids, headers) at INFO/DEBUG.
    for noisy in ("twilio.http_client", "httpx", "httpx2", "httpcore", "openai", "procrastinate"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
