"""Owns reading a Twilio inbound form: what it says, and how the agent reads it as text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from memory.store import InboundMessage

MAX_MEDIA_ITEMS = 10  # WhatsApp's own limit per message
MAX_FIELD_CHARS = 8_192  # Twilio's Body is at most 1,600 characters; far beyond that is not Twilio


class InvalidInboundError(ValueError):
    """A webhook form that cannot be a Twilio message; the text is safe to show the caller."""


def form_payload(form: FormData) -> dict[str, Any]:
    """Return every received field; a repeated key keeps all its values as a list."""
    payload: dict[str, Any] = {}
    for key in form:
        values = [str(value) for value in form.getlist(key)]
        payload[key] = values[0] if len(values) == 1 else values
    return payload


def read_inbound(form: FormData) -> InboundMessage:
    """Return the message a Twilio form carries, or raise InvalidInboundError saying why."""
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidInboundError(f"field {key[:40]!r} is a file upload; Twilio sends text")
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInboundError(f"field {key[:40]!r} exceeds {MAX_FIELD_CHARS} characters")
        if "\x00" in key or "\x00" in value:
            # PostgreSQL text cannot hold NUL, and Twilio never sends it.
            raise InvalidInboundError(f"field {key[:40]!r} contains a NUL character")
    sid = str(form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise InvalidInboundError("missing field: MessageSid")
    if len(sid) > 64:
        raise InvalidInboundError("MessageSid is too long")
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
    return InboundMessage(
        twilio_sid=sid,
        body=str(form.get("Body") or ""),
        media=media,
        payload=form_payload(form),
    )


def is_audio(item: Mapping[str, Any]) -> bool:
    """Whether a media item is a voice note or other audio."""
    return str(item.get("content_type") or "").lower().startswith("audio/")


def is_image(item: Mapping[str, Any]) -> bool:
    """Whether a media item is a picture."""
    return str(item.get("content_type") or "").lower().startswith("image/")


def text_for_agent(
    body: str,
    media: list[dict[str, Any]],
    payload: Mapping[str, Any] | None,
    *,
    transcript: str | None = None,
    media_error: str | None = None,
) -> str:
    """Render a stored inbound message as the text the agent reads.

    Locations and button taps carry no Body worth reading on their own, so their fields are
    spelled out; attachments are announced so the agent can acknowledge them.
    """
    fields = payload or {}
    parts: list[str] = []
    message_type = str(fields.get("MessageType") or "")
    if message_type == "location" or ("Latitude" in fields and "Longitude" in fields):
        where = ", ".join(str(fields[key]) for key in ("Label", "Address") if fields.get(key))
        coordinates = f"{fields.get('Latitude')}, {fields.get('Longitude')}"
        parts.append(f"[Ubicación compartida: {where} ({coordinates})]".replace(":  (", ": ("))
    if fields.get("ButtonPayload") or message_type == "button":
        button_text = fields.get("ButtonText") or body
        parts.append(f"[Botón pulsado: {button_text} (payload: {fields.get('ButtonPayload', '')})]")
    elif body:
        parts.append(body)
    if transcript:
        parts.append(f"[Nota de voz del cliente, transcrita]: {transcript}")
    elif media_error and any(is_audio(item) for item in media):
        parts.append(
            "[El cliente envió una nota de voz que no se pudo entender: pídele con amabilidad que la escriba]"
        )
    images = [item for item in media if is_image(item)]
    if images:
        parts.append(f"[El cliente envió {len(images)} imagen(es)]")
    others = [
        item
        for item in media
        if not is_image(item) and (not (transcript or media_error) or not is_audio(item))
    ]
    if others:
        kinds = ", ".join(item.get("content_type") or "desconocido" for item in others)
        parts.append(f"[{len(others)} adjunto(s): {kinds}]")
    return "\n".join(parts) if parts else "[mensaje vacío]"
