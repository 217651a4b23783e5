"""Owns `advisor-bot simulate`: play Twilio against a running server and show the bot's reply."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from xml.etree import ElementTree

import httpx
import psycopg

from advisors.models import Advisor
from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from advisors.repository import get_advisor_by_number
from bot.cli.console import fail, say
from bot.infra.database import connection_kwargs, resolve_database
from bot.infra.server_addresses import server_on_this_machine
from bot.settings import Settings
from bot.twilio.paths import WEBHOOK_PATH
from bot.twilio.signature import local_auth_token
from bot.twilio.simulated import signed_form
from memory.records import conversations, messages


def twiml_messages(twiml: str) -> list[str]:
    """The texts of the `<Message>` elements of a TwiML answer."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter("Message")]


def webhook_url(address: str) -> str:
    """The webhook's URL from a server address; a URL that already ends in the path is kept."""
    address = address.rstrip("/")
    return address if address.endswith(WEBHOOK_PATH) else address + WEBHOOK_PATH


async def simulate(
    settings: Settings,
    *,
    to: str,
    from_: str,
    text: str,
    url: str | None,
    timeout: float,
) -> int:
    """Post one signed message and print the replies stored for that customer; 0 when one came.

    When no reply comes, say the real reason (advisor inactive, customer opted out, AI switched
    off, the message failed) rather than guess. Without `url`, the server that runs on this
    machine is found by the port it was started with (bot.infra.server_addresses), else :8000.
    """
    try:
        to_number, customer = normalize_whatsapp_address(to), normalize_whatsapp_address(from_)
    except InvalidNumberError as error:
        return fail(str(error), 2)
    auth_token = local_auth_token(settings)
    if auth_token is None:
        return fail("TWILIO_AUTH_TOKEN is needed to sign the request", 2)
    database = resolve_database(settings)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database, autocommit=True)
    ) as conn:
        if url is None:  # the server `advisor-bot serve` runs on this machine, else :8000
            running = await server_on_this_machine(conn)
            url = f"http://127.0.0.1:{running.port if running else 8000}"
        url = webhook_url(url)
        advisor = await get_advisor_by_number(conn=conn, number=to_number)
        if advisor is None:
            return fail(
                f"no advisor owns {to_number}; register one with `advisor-bot advisors add` "
                "or `advisor-bot db seed`"
            )
        cursor = await conn.execute("SELECT coalesce(max(id), 0) AS id FROM messages")
        row = await cursor.fetchone()
        last_id = int(row["id"]) if row else 0

        form, signature = signed_form(url=url, auth_token=auth_token, to=to_number, from_=customer, text=text)
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as error:
            return fail(
                f"could not reach {url}: {type(error).__name__}; is `advisor-bot serve` running "
                "there (give its port with --port, or its address with --url)?"
            )
        say(f"webhook answered {response.status_code}")
        if response.status_code != 200:
            return fail(response.text.strip())
        immediate = twiml_messages(response.text)
        if immediate:  # an advisor's command: the answer is in the webhook's own response
            for text in immediate:
                say(f"{advisor.name} (command reply): {text}")
            return 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = await messages.messages_after(
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
        reason = await _why_no_reply(conn, advisor, customer, form["MessageSid"])
    return fail(f"no reply within {timeout:.0f} s: {reason}")


async def _why_no_reply(conn: psycopg.AsyncConnection[Any], advisor: Advisor, customer: str, sid: str) -> str:
    """The real reason no reply came, read from the database the server writes to."""
    if not advisor.is_active:
        return (
            f"{advisor.name} is inactive, so the server ignores messages to "
            f"{advisor.twilio_phone_number} (`advisor-bot advisors activate {advisor.twilio_phone_number}`)"
        )
    conversation = await conversations.find_conversation(conn=conn, advisor_id=advisor.id, phone=customer)
    if conversation is not None and conversation.opted_out:
        return f"{customer} opted out (wrote a stop word); they opt in again by writing a start word"
    if conversation is not None and not conversation.ai_attention:
        why = f" ({conversation.handover_reason})" if conversation.handover_reason else ""
        return f"the AI is switched off for {customer}{why}; the advisor answers by hand"
    row = await (
        await conn.execute(
            "SELECT status, error_message FROM messages WHERE advisor_id = %s AND twilio_sid = %s",
            (advisor.id, sid),
        )
    ).fetchone()
    if row and row["status"] == "failed":
        return f"the message failed: {row['error_message']}"
    if row and row["status"] == "received":
        return "the message is still waiting for a worker: is one running (`advisor-bot worker`)?"
    return "the worker answered late or is busy; look at the server's log"
