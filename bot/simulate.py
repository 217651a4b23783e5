"""Owns `advisor-bot simulate`: play Twilio against a running server and show the bot's reply."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from xml.etree import ElementTree

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from advisors.numbers import InvalidNumberError, normalize_whatsapp_address, whatsapp_address
from advisors.repository import get_advisor_by_number
from bot.database import connection_kwargs, resolve_database
from bot.settings import Settings
from bot.signature import local_auth_token
from memory import store


def signed_form(
    *,
    url: str,
    auth_token: str,
    to: str,
    from_: str,
    text: str,
    sid: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[dict[str, str], str]:
    """Return a Twilio-shaped inbound form (text, plus any `extra` fields) and its signature."""
    message_sid = sid or "SM" + uuid.uuid4().hex
    form = {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "SmsStatus": "received",
        "NumSegments": "1",
        "NumMedia": "0",
        "MessageType": "text",
        "ProfileName": "Simulated customer",
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


def twiml_messages(twiml: str) -> list[str]:
    """The texts of the `<Message>` elements of a TwiML answer."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter("Message")]


async def simulate(
    settings: Settings,
    *,
    to: str,
    from_: str,
    text: str,
    url: str,
    timeout: float,
    say: Callable[[str], None],
) -> int:
    """Post one signed message and print the replies stored for that customer; 0 when one came."""
    try:
        to_number, customer = normalize_whatsapp_address(to), normalize_whatsapp_address(from_)
    except InvalidNumberError as error:
        say(f"error: {error}")
        return 2
    auth_token = local_auth_token(settings)
    if auth_token is None:
        say("error: TWILIO_AUTH_TOKEN is needed to sign the request")
        return 2
    database = resolve_database(settings)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database, autocommit=True)
    ) as conn:
        advisor = await get_advisor_by_number(conn=conn, number=to_number)
        if advisor is None:
            say(f"error: no advisor owns {to_number}; register one with `advisor-bot db seed`")
            return 1
        cursor = await conn.execute("SELECT coalesce(max(id), 0) AS id FROM messages")
        row = await cursor.fetchone()
        last_id = int(row["id"]) if row else 0

        form, signature = signed_form(url=url, auth_token=auth_token, to=to_number, from_=customer, text=text)
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as error:
            say(f"error: could not reach {url}: {type(error).__name__}; is `advisor-bot serve` running?")
            return 1
        say(f"webhook answered {response.status_code}")
        if response.status_code != 200:
            say(response.text.strip())
            return 1
        immediate = twiml_messages(response.text)
        if immediate:  # an advisor's command: the answer is in the webhook's own response
            for text in immediate:
                say(f"{advisor.name} (command reply): {text}")
            return 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = await store.messages_after(
                conn=conn,
                advisor_id=advisor.id,
                phone=customer,
                after_id=last_id,
                direction="outbound",
            )
            done = [reply for reply in replies if reply.status != "pending"]
            if done and len(done) == len(replies):
                for reply in done:
                    say(f"{advisor.name} ({reply.author}, {reply.status}): {reply.body}")
                return 0
            await asyncio.sleep(0.25)
    say(f"no reply within {timeout:.0f} s (AI switched off for this customer, or the worker is down)")
    return 1
