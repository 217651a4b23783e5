"""Owns writing a customer's message as Twilio would post and sign it.

For everything that plays Twilio against a running server: `advisor-bot simulate`, the
evaluation suite (`advisor-bot eval`) and the benchmarks. One definition of the form's fields.
"""

from __future__ import annotations

import uuid

from twilio.request_validator import RequestValidator

from advisors.numbers import whatsapp_address


def signed_form(
    *,
    url: str,
    auth_token: str,
    to: str,
    from_: str,
    text: str,
    sid: str | None = None,
    extra: dict[str, str] | None = None,
    profile_name: str | None = "Simulated customer",
) -> tuple[dict[str, str], str]:
    """Return a Twilio-shaped inbound form (text, plus any `extra` fields) and its signature.

    `profile_name` is the customer's WhatsApp name (None: the customer has none).
    """
    message_sid = sid or "SM" + uuid.uuid4().hex
    form = {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "SmsStatus": "received",
        "NumSegments": "1",
        "NumMedia": "0",
        "MessageType": "text",
        **({"ProfileName": profile_name} if profile_name else {}),
        "WaId": from_.lstrip("+"),
        "From": whatsapp_address(from_),
        "To": whatsapp_address(to),
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "SmsMessageSid": message_sid,
        "Body": text,
        **(extra or {}),
    }
    return form, RequestValidator(auth_token).compute_signature(url, form)
