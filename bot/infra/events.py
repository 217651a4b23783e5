"""Owns events for other systems: what happened, signed like Stripe's webhooks, sent by the queue.

Each event is enqueued in the same transaction as the change it reports, one job per receiver,
so an event exists exactly when its change was committed, and no request ever waits for a
receiver. Deliveries have a queue of their own (`events`), worked by their own few slots with a
short timeout and a circuit breaker per receiver, so a slow receiver never delays a reply.
Receivers verify `AdvisorBot-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed with EVENT_WEBHOOK_SECRET>` and should reject old timestamps.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import procrastinate
from psycopg.types.json import Jsonb

from bot.infra.job_queue import EVENT_TASK, EVENTS_QUEUE
from bot.settings import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "AdvisorBot-Signature"
EVENT_RETENTION_DAYS = 7
EVENT_TYPES = frozenset(
    {
        "message.received",
        "message.sent",
        "message.failed",
        "handover.requested",
        "notice.undeliverable",
        "ai_attention.changed",
        "ai_mode.changed",
        "draft.created",
        "draft.approved",
        "draft.rejected",
        "draft.timed_out",
        "customer.erased",
    }
)


class TransientEventError(Exception):
    """The receiver is down, slow or busy (5xx, 408, 429, network): deliver again later."""


def sign_event(body: bytes, *, secret: str, timestamp: int) -> str:
    """Return the signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_event(
    body: bytes, header: str, *, secret: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """Check a signature header as a receiver should: right key, right body, recent timestamp."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign_event(body, secret=secret, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def attention_event(conversation: Any, enabled: bool, changed_by: str) -> dict[str, Any]:
    """The data of an `ai_attention.changed` event."""
    return {
        "advisor_id": conversation.advisor_id,
        "conversation_id": conversation.conversation_id,
        "phone_number": conversation.phone_number,
        "ai_attention": enabled,
        "changed_by": changed_by,
    }


def erasure_event(
    advisor_id: Any, conversation_id: Any, erased_by: str, rows: dict[str, int]
) -> dict[str, Any]:
    """The data of a `customer.erased` event: which conversation went, never who it was.

    Receivers that copied the customer's data (a CRM, a data warehouse) erase it on their side.
    """
    return {
        "advisor_id": advisor_id,
        "conversation_id": conversation_id,
        "erased_by": erased_by,
        "rows": rows,
    }


class EventPublisher:
    """Enqueues events for every configured receiver; does nothing when none is configured."""

    def __init__(self, settings: Settings, queue: procrastinate.App) -> None:
        self._urls = settings.event_webhook_url_list()
        self._queue = queue

    @property
    def enabled(self) -> bool:
        """Whether any receiver is configured (without one, `publish` writes nothing)."""
        return bool(self._urls)

    async def publish(self, conn: Any, event_type: str, data: dict[str, Any]) -> None:
        """Enqueue `event_type` with `data` inside the caller's transaction on `conn`."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        if not self._urls:
            return
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "created_at": datetime.now(UTC).isoformat(),
            "data": json.loads(json.dumps(data, default=str)),
        }
        await conn.execute(
            "INSERT INTO advisor_bot_events (id, body) VALUES (%s, %s)", (event["id"], Jsonb(event))
        )
        for url in self._urls:  # the job names the event; its data stays in the table
            await self._queue.configure_task(EVENT_TASK, connection=conn, queue=EVENTS_QUEUE).defer_async(
                url=url, event_id=event["id"]
            )


async def load_event(conn: Any, event_id: str) -> dict[str, Any] | None:
    """The stored event a delivery job names (None once pruned)."""
    cursor = await conn.execute("SELECT body FROM advisor_bot_events WHERE id = %s", (event_id,))
    row = await cursor.fetchone()
    if row is None:
        return None
    body: dict[str, Any] = row["body"] if isinstance(row, dict) else row[0]
    return body


async def prune_events(conn: Any, *, older_than_days: int = EVENT_RETENTION_DAYS) -> int:
    """Delete stored events past their retention (their deliveries ended long ago)."""
    cursor = await conn.execute(
        "DELETE FROM advisor_bot_events WHERE created_at < now() - make_interval(days => %s)",
        (older_than_days,),
    )
    return int(cursor.rowcount)


class ReceiverBreakers:
    """A circuit breaker per receiver URL: one that keeps failing is left alone for a while.

    Without it every queued event would wait its full timeout against a receiver that is down,
    one after another; with it, after `failures` failures in a row the receiver is skipped (the
    event fails at once and is retried later) until `seconds` have passed, then one delivery
    tries it again: a success closes the circuit, a failure opens it for another period.
    """

    def __init__(self, *, failures: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = failures
        self._seconds = seconds
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def check(self, url: str) -> None:
        """Raise TransientEventError while `url`'s circuit is open."""
        until = self._open_until.get(url)
        if until is None:
            return
        if self._clock() < until:
            raise TransientEventError("receiver circuit open after repeated failures")
        self._open_until[url] = self._clock() + self._seconds  # half open: this one try only

    def succeeded(self, url: str) -> None:
        """Close `url`'s circuit."""
        self._failures.pop(url, None)
        self._open_until.pop(url, None)

    def failed(self, url: str) -> None:
        """Count a failure; open the circuit at the limit (at once again when half open)."""
        count = self._failures.get(url, 0) + 1
        self._failures[url] = count
        if count >= self._limit:
            self._open_until[url] = self._clock() + self._seconds

    def is_open(self, url: str) -> bool:
        """Whether deliveries to `url` are being skipped now."""
        until = self._open_until.get(url)
        return until is not None and self._clock() < until


async def deliver_event(
    url: str,
    event: dict[str, Any],
    *,
    secret: str | None,
    timeout: float = 5.0,
    breakers: ReceiverBreakers | None = None,
) -> int:
    """POST one event; return the receiver's status for a success or a permanent refusal.

    Raises:
        TransientEventError: when the receiver should be tried again later (down, slow, busy,
            or its circuit is open).
    """
    if breakers is not None:
        breakers.check(url)
    try:
        status = await _post_event(url, event, secret=secret, timeout=timeout)
    except TransientEventError:
        if breakers is not None:
            breakers.failed(url)
        raise
    if breakers is not None:
        breakers.succeeded(url)
    return status


async def _post_event(url: str, event: dict[str, Any], *, secret: str | None, timeout: float) -> int:
    body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "advisor-bot-events/1"}
    if secret:
        headers[SIGNATURE_HEADER] = sign_event(body, secret=secret, timestamp=int(time.time()))
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
        ):
            response = await client.post(url, content=body, headers=headers)
    except TimeoutError as error:
        raise TransientEventError(f"receiver did not answer within {timeout:g} s") from error
    except httpx.HTTPError as error:
        raise TransientEventError(f"receiver unreachable: {type(error).__name__}") from error
    if response.status_code >= 500 or response.status_code in {408, 429}:
        raise TransientEventError(f"receiver answered {response.status_code}")
    if response.status_code >= 300:
        logger.error(
            "event refused by its receiver; not retried",
            extra={"event": event.get("type"), "status": response.status_code},
        )
    return response.status_code
