"""Owns the server's configuration: one Settings class read from the environment and `.env`."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TWILIO_DEFAULT_API_BASE_URL = "https://api.twilio.com"
# Model families that read images; OPENAI_IMAGE_INPUT=on|off overrides the guess.
_VISION_MODELS = re.compile(r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|vision|llava|gemma-3|qwen.*vl", re.IGNORECASE)
_PLACEHOLDER_MARKERS = ("changeme", "your_", "xxxx", "<")


def strip_pgbouncer_flag(url: str) -> str:
    """Drop the Prisma-style `pgbouncer=true` flag that libpq would reject as unknown."""
    parsed = urlparse(url)
    if "pgbouncer" not in parsed.query.lower():
        return url
    kept = [part for part in parsed.query.split("&") if not part.lower().startswith("pgbouncer=")]
    return parsed._replace(query="&".join(kept)).geturl()


class Settings(BaseSettings):
    """Every setting of advisor-bot; `.env.example` documents each field."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "production"] = "development"
    database_url: SecretStr | None = None
    migration_database_url: SecretStr | None = None
    embedded_data_dir: Path = Path(".advisor-bot/pgdata")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_timeout_seconds: float = Field(default=5.0, gt=0)

    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr | None = None
    twilio_webhook_signing_key: SecretStr | None = None
    twilio_auth_token_previous: SecretStr | None = None
    twilio_api_base_url: str = TWILIO_DEFAULT_API_BASE_URL
    twilio_timeout_seconds: float = Field(default=10.0, gt=0)
    typing_indicator: bool = True
    part_delivery_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    public_base_url: str | None = None
    # An approved utility template for hand-over notices outside the advisor's own 24 h window
    # (variables: 1 customer name, 2 customer phone, 3 reason); `notice_content_sid` in an
    # advisor's settings wins. NOTICE_TEMPLATE_ALWAYS sends it even inside the window.
    notice_content_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    notice_template_always: bool = False
    validate_twilio_signature: bool = True
    max_webhook_bytes: int = Field(default=64 * 1024, ge=1024)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    webhook_max_in_flight: int = Field(default=64, ge=0, le=10_000)
    webhook_body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    max_connections_per_client: int = Field(default=32, ge=0, le=100_000)
    console_streams_per_session: int = Field(default=8, ge=1, le=1000)
    webhook_rate_limit: float = Field(default=100.0, ge=0)
    api_rate_limit: float = Field(default=20.0, ge=0)
    api_auth_failure_rate_limit: float = Field(default=0.2, ge=0)
    max_media_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    media_timeout_seconds: float = Field(default=20.0, gt=0)
    twilio_media_hosts: str = "api.twilio.com"
    media_cdn_hosts: str = "*.twiliocdn.com,s3-external-1.amazonaws.com"
    console_media_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    console_media_origin: str | None = None
    document_read_seconds: float = Field(default=20.0, gt=0, le=600)
    document_read_memory_mb: int = Field(default=512, ge=64, le=65_536)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    openai_embedding_model: str | None = None
    openai_transcribe_model: str = "whisper-1"
    openai_tts_model: str = "gpt-4o-mini-tts"
    openai_image_input: Literal["auto", "on", "off"] = "auto"
    openai_prompt_cache_key: Literal["auto", "on", "off"] = "auto"
    max_image_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    openai_tts_voice: str = "alloy"

    media_backend: Literal["database", "local", "supabase"] = "database"
    media_dir: Path = Path(".advisor-bot/media")
    media_link_ttl_seconds: int = Field(default=86_400, ge=60)
    media_retention_hours: float = Field(default=48, gt=0)
    media_signing_key: SecretStr | None = None
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    supabase_media_bucket: str = "media"
    # Empty: the configured model's known window (bot.agent.model.KNOWN_CONTEXT_TOKENS).
    model_context_tokens: int | None = Field(default=None, ge=512)
    reply_token_reserve: int = Field(default=1_024, ge=64)
    ai_max_tool_rounds: int = Field(default=8, ge=1, le=50)
    max_reply_parts: int = Field(default=3, ge=1, le=20)
    ai_memory_tokens: int | None = Field(default=None, ge=256, le=1_000_000)
    ai_summary_tokens: int | None = Field(default=None, ge=64, le=100_000)

    advisor_cache_ttl: float = Field(default=86_400, gt=0)
    unknown_number_cache_ttl: float = Field(default=60, ge=0)
    debounce_seconds: float = Field(default=2.0, ge=0)
    worker_concurrency: int = Field(default=10, ge=1, le=500)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    job_max_attempts: int = Field(default=6, ge=1, le=50)
    job_retry_base_seconds: int = Field(default=2, ge=0, le=60)
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    stalled_worker_seconds: float = Field(default=30.0, gt=0, le=3600)

    historical_after_days: int = Field(default=30, ge=1, le=3650)
    campaign_rate_per_second: float = Field(default=1.0, gt=0, le=80)
    campaign_repeat_hours: float = Field(default=168.0, ge=0, le=24 * 365)
    campaigns_per_advisor_per_day: int = Field(default=5, ge=0, le=1000)
    hubspot_access_token: SecretStr | None = None
    hubspot_create_contacts: bool = False
    hubspot_api_base_url: str = "https://api.hubapi.com"
    hubspot_labels_property: str = Field(default="advisor_bot_labels", pattern=r"^[a-z0-9_]{1,100}$")

    ai_pause_on_manual_reply: bool = True
    ai_loop_max_replies: int = Field(default=20, ge=0, le=1000)
    ai_loop_window_seconds: float = Field(default=300, gt=0, le=86_400)
    ai_resume_after_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    # A draft nobody approved or rejected in this time becomes a hand-over (draft mode).
    draft_timeout_minutes: float = Field(default=30, gt=0, le=60 * 24 * 7)
    opt_out_words: str = "STOP,BAJA,CANCELAR"
    opt_in_words: str = "START,ALTA"

    # What things cost (bot.infra.pricing): Meta's rates per message by category and country
    # (empty: the shipped example card), Twilio's fee per message, model prices over the defaults.
    whatsapp_rate_card: Path | None = None
    twilio_fee_per_message: float = Field(default=0.005, ge=0, le=10)
    model_prices: str | None = None

    admin_token: SecretStr | None = None
    metrics_token: SecretStr | None = None
    event_webhook_urls: str = ""
    event_webhook_secret: SecretStr | None = None
    event_worker_concurrency: int = Field(default=4, ge=1, le=100)
    event_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    event_circuit_failures: int = Field(default=5, ge=1, le=1000)
    event_circuit_seconds: float = Field(default=30.0, gt=0, le=3600)

    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_mask_phones: bool = True

    @field_validator(
        "twilio_api_base_url",
        "public_base_url",
        "openai_base_url",
        "hubspot_api_base_url",
        "console_media_origin",
    )
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _postgres_conninfo(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a connection string psycopg cannot parse (never echoed: it holds a password)."""
        if value is None:
            return value
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(strip_pgbouncer_flag(value.get_secret_value()))
        except Exception:  # noqa: BLE001 - psycopg's message quotes the string, password included
            raise ValueError(
                "not a PostgreSQL connection string: use postgresql://user:password@host:5432/dbname "
                "(percent-encode special characters in the password)"
            ) from None
        port = str(parts.get("port") or "")
        if port and not all(p.strip().isascii() and p.strip().isdigit() for p in port.split(",")):
            raise ValueError("the port in the connection string is not a number")
        return value

    @field_validator("console_media_origin")
    @classmethod
    def _an_origin(cls, value: str | None) -> str | None:
        if value and (not value.startswith(("http://", "https://")) or "/" in value.split("://", 1)[1]):
            raise ValueError(
                "CONSOLE_MEDIA_ORIGIN is an origin: scheme and host only, e.g. https://media.example.com"
            )
        return value

    @field_validator("event_webhook_urls")
    @classmethod
    def _http_urls_only(cls, value: str) -> str:
        for url in (part.strip() for part in value.split(",")):
            if url and not url.startswith(("http://", "https://")):
                raise ValueError(f"EVENT_WEBHOOK_URLS holds a non-HTTP address: {url[:60]!r}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _stalled_after_heartbeats(self) -> Settings:
        """A live worker must never look dead: it needs at least two heartbeats per stall period."""
        if self.stalled_worker_seconds < 2 * self.worker_heartbeat_seconds:
            raise ValueError("STALLED_WORKER_SECONDS must be at least twice WORKER_HEARTBEAT_SECONDS")
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        """Refuse to start in production with secrets copied unchanged from `.env.example`."""
        if self.environment != "production":
            return self
        for name in (
            "twilio_auth_token",
            "openai_api_key",
            "twilio_webhook_signing_key",
            "twilio_auth_token_previous",
            "event_webhook_secret",
            "admin_token",
            "media_signing_key",
            "supabase_service_role_key",
            "hubspot_access_token",
            "metrics_token",
        ):
            secret = getattr(self, name)
            if secret is None:
                continue
            value = secret.get_secret_value().lower()
            if any(marker in value for marker in _PLACEHOLDER_MARKERS):
                raise ValueError(f"{name.upper()} still holds a placeholder value")
        if self.database_url is None:
            raise ValueError(
                "ENVIRONMENT=production needs DATABASE_URL: the embedded PostgreSQL keeps its data "
                "on this machine's disk, which a deploy throws away"
            )
        return self

    @property
    def twilio_configured(self) -> bool:
        """Whether outbound messages can really be sent through Twilio."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def model_configured(self) -> bool:
        """Whether an AI model can be called: a key, or a local OpenAI-compatible server."""
        return self.openai_api_key is not None or self.openai_base_url is not None

    def event_webhook_url_list(self) -> list[str]:
        """The receivers of events, in the order configured."""
        return [url.strip() for url in self.event_webhook_urls.split(",") if url.strip()]

    def media_key(self, fallback: str | None) -> bytes:
        """The key that signs local media links; every process derives the same one."""
        secret = self.media_signing_key.get_secret_value() if self.media_signing_key else (fallback or "")
        return hashlib.sha256(b"advisor-bot-media:" + secret.encode()).digest()

    def image_input_enabled(self) -> bool:
        """Whether customers' pictures go to the model as image input (else it is told one came)."""
        if self.openai_image_input != "auto":
            return self.openai_image_input == "on"
        return bool(_VISION_MODELS.search(self.openai_model))

    def prompt_cache_key_enabled(self) -> bool:
        """Whether chat requests carry a `prompt_cache_key` (auto: only to OpenAI's own API).

        OpenAI routes requests with the same key to the same cache; other OpenAI-compatible
        servers may refuse a field they do not know, so they get it only when asked for.
        """
        if self.openai_prompt_cache_key != "auto":
            return self.openai_prompt_cache_key == "on"
        host = urlparse(self.openai_base_url).hostname if self.openai_base_url else "api.openai.com"
        return host == "api.openai.com"

    def opt_out_keywords(self) -> frozenset[str]:
        """The words (case-insensitive, the whole message) that stop all messages to a customer."""
        return frozenset(word.strip().upper() for word in self.opt_out_words.split(",") if word.strip())

    def opt_in_keywords(self) -> frozenset[str]:
        """The words that let messages flow to a customer again."""
        return frozenset(word.strip().upper() for word in self.opt_in_words.split(",") if word.strip())

    def signing_key(self) -> str | None:
        """The secret that Twilio signs webhooks with, if any."""
        key = self.twilio_webhook_signing_key or self.twilio_auth_token
        return key.get_secret_value() if key else None
