"""Owns keeping the advisor cache fresh: a change to `advisors` reaches every process in seconds.

A trigger NOTIFYs `advisor_bot_advisors` with the numbers a change touched; each process LISTENs
and drops those entries. Behind a transaction pooler, where LISTEN does not work, the process polls
a fingerprint of the table instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from advisors.resolver import AdvisorResolver
from bot.tasks import cancellation_requested

logger = logging.getLogger(__name__)

CHANNEL = "advisor_bot_advisors"
_FINGERPRINT = (
    "SELECT md5(coalesce(string_agg(id::text || twilio_phone_number || coalesce(is_active, true)::text "
    "|| phone_number || name || settings::text, ',' ORDER BY id), '')) AS fingerprint FROM advisors"
)


async def listen_for_changes(
    conninfo: str,
    resolver: AdvisorResolver,
    *,
    connection_kwargs: dict[str, Any],
    ready: asyncio.Event | None = None,
    retry_seconds: float = 2.0,
) -> None:
    """Drop cached advisors named by NOTIFY until cancelled; reconnects after failures.

    After every (re)connection the whole cache is dropped: notifications sent while this
    process was not listening are lost, so nothing cached before then can be trusted.
    """
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, **{**connection_kwargs, "autocommit": True}
            ) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                resolver.invalidate()
                if ready is not None:
                    ready.set()
                async for notify in conn.notifies():
                    resolver.invalidate(notify.payload or None)
                    logger.info(
                        "advisor changed; cache entry dropped", extra={"advisor_number": notify.payload}
                    )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure: report, wait, reconnect
            if cancellation_requested():
                return
            logger.warning(
                "advisor change listener lost its connection; reconnecting",
                extra={"error": type(error).__name__},
            )
            await asyncio.sleep(retry_seconds)
        if cancellation_requested():
            return


async def poll_for_changes(
    conninfo: str,
    resolver: AdvisorResolver,
    *,
    connection_kwargs: dict[str, Any],
    interval: float = 5.0,
    ready: asyncio.Event | None = None,
) -> None:
    """Drop the whole cache whenever the `advisors` table's fingerprint changes, until cancelled."""
    last: str | None = None
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, **{**connection_kwargs, "autocommit": True}
            ) as conn:
                row = await (await conn.execute(_FINGERPRINT)).fetchone()
            current = row["fingerprint"] if isinstance(row, dict) else (row[0] if row else None)
            if last is not None and current != last:
                resolver.invalidate()
                logger.info("advisors changed; cache dropped")
            last = current
            if ready is not None:
                ready.set()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - report and try again next round
            logger.warning("advisor change poll failed", extra={"error": type(error).__name__})
        if cancellation_requested():
            return
        await asyncio.sleep(interval)
