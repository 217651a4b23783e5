"""Owns reading a Twilio inbound form: the message it carries, or why it cannot be one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from memory.records.models import InboundMessage

MAX_MEDIA_ITEMS = 10  # WhatsApp's own limit per message
MAX_SID_CHARS = 64  # Twilio's SIDs are 34 characters
MAX_FIELD_CHARS = 8_192  # Twilio's Body is at most 1,600 characters; far beyond that is not Twilio


# What the webhook adds to a stored payload is named with a leading "_", which no Twilio field has.
REACTION_KEY = "_reaction"  # {"emoji": "👍"}; "" when the customer took their reaction back


class InvalidInboundError(ValueError):
    """A webhook form that cannot be a Twilio message; the text is safe to show the caller."""


def form_payload(form: FormData) -> dict[str, Any]:
    """Return every received field; a repeated key keeps all its values as a list."""
    payload: dict[str, Any] = {}
    for key in form:
        values = [str(value) for value in form.getlist(key)]
        payload[key] = values[0] if len(values) == 1 else values
    return payload


def check_fields(form: FormData) -> None:
    """Refuse what no Twilio form holds (uploads, huge or NUL-bearing fields); both webhooks use it."""
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidInboundError(f"field {key[:40]!r} is a file upload; Twilio sends text")
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInboundError(f"field {key[:40]!r} exceeds {MAX_FIELD_CHARS} characters")
        if "\x00" in key or "\x00" in value:
            # PostgreSQL text cannot hold NUL, and Twilio never sends it.
            raise InvalidInboundError(f"field {key[:40]!r} contains a NUL character")


def read_sid(form: FormData, *fields: str) -> str:
    """The message SID of a checked form (the first of `fields` present), or why there is none."""
    sid = next((str(form.get(field) or "").strip() for field in fields if form.get(field)), "")
    if not sid:
        raise InvalidInboundError(f"missing field: {fields[0]}")
    if len(sid) > MAX_SID_CHARS:
        raise InvalidInboundError(f"{fields[0]} is too long")
    return sid


def read_inbound(form: FormData) -> InboundMessage:
    """Return the message a Twilio form carries, or raise InvalidInboundError saying why."""
    check_fields(form)
    sid = read_sid(form, "MessageSid", "SmsMessageSid")
    try:
        declared_media = int(str(form.get("NumMedia") or "0"))
    except ValueError as error:
        raise InvalidInboundError("NumMedia is not a number") from error
    if not 0 <= declared_media <= MAX_MEDIA_ITEMS:
        raise InvalidInboundError(f"NumMedia must be between 0 and {MAX_MEDIA_ITEMS}")
    media = []
    for index in range(declared_media):
        url = str(form.get(f"MediaUrl{index}") or "")
        if url:
            content_type = str(form.get(f"MediaContentType{index}") or "")
            media.append({"url": url, "content_type": content_type})
    payload = {key: value for key, value in form_payload(form).items() if not key.startswith("_")}
    body = str(form.get("Body") or "")
    emoji = reaction_of(form)
    if emoji is not None:
        payload[REACTION_KEY] = {"emoji": emoji}
        body = emoji
    return InboundMessage(
        twilio_sid=sid,
        body=body,
        media=media,
        payload=payload,
        profile_name=str(form.get("ProfileName") or "").strip()[:200] or None,
    )


def reaction_of(form: FormData) -> str | None:
    """The emoji of a reaction to one of our messages ("" when taken back), or None for a message.

    A reaction comes as a message of type `reaction` whose text is the emoji, naming the message
    it reacts to as a quoted reply names the one it quotes (`OriginalRepliedMessageSid`). No
    sample of Twilio's exists here (../shared has none): this is the form assumed, in one place.
    """
    if str(form.get("MessageType") or "").strip().lower() != "reaction":
        return None
    return str(form.get("Body") or "").strip()[:32]


def is_audio(item: Mapping[str, Any]) -> bool:
    """Whether a media item is a voice note or other audio."""
    return str(item.get("content_type") or "").lower().startswith("audio/")


def is_image(item: Mapping[str, Any]) -> bool:
    """Whether a media item is a picture."""
    return str(item.get("content_type") or "").lower().startswith("image/")


# What vision models read (OpenAI: PNG, JPEG, WebP, GIF). A customer's SVG, HEIC or TIFF is only
# told of: sent as image input it made the model refuse the whole request (the away message).
MODEL_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def model_image_type(declared: object) -> str | None:
    """The type to give the model a picture as, or None when it cannot read that kind."""
    kind = str(declared or "").split(";", 1)[0].strip().lower()
    return kind if kind in MODEL_IMAGE_TYPES else None
