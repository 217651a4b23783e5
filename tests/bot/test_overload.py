"""Load shedding: beyond WEBHOOK_MAX_IN_FLIGHT requests at once, the excess gets 503 at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from tests.conftest import Db, inbound_form, settle, sign, wait_for
from tests.live import LiveServer, free_port

ADVISOR_NUMBER = "+14155238886"
CUSTOMER = "+573001112233"


def test_requests_beyond_the_in_flight_limit_are_refused_at_once_and_nothing_is_lost(
    db: Db, make_settings: Any, database_url: str
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    port = free_port()
    settings = make_settings(webhook_max_in_flight=2, public_base_url=f"http://127.0.0.1:{port}")
    with LiveServer(settings, port) as server:
        url = server.base + "/webhooks/twilio"
        first = inbound_form(ADVISOR_NUMBER, CUSTOMER, "primero")
        assert (
            httpx.post(url, data=first, headers={"X-Twilio-Signature": sign(url, first)}).status_code == 200
        )
        settle(db)  # the worker is done with the conversation: only webhook requests wait below
        forms = [inbound_form(ADVISOR_NUMBER, CUSTOMER, f"mensaje {n}") for n in range(2)]
        with psycopg.connect(database_url) as holder, ThreadPoolExecutor(max_workers=2) as pool:
            # Hold the conversation's row: two accepted requests stay in flight, waiting for it.
            holder.execute("SELECT 1 FROM chat_history FOR UPDATE").fetchall()
            blocked = [
                pool.submit(httpx.post, url, data=f, headers={"X-Twilio-Signature": sign(url, f)}, timeout=30)
                for f in forms
            ]
            wait_for(
                lambda: db.query("SELECT count(*) AS n FROM pg_locks WHERE NOT granted")[0]["n"] >= 2,
                what="two webhook requests waiting for the row",
            )
            third = inbound_form(ADVISOR_NUMBER, CUSTOMER, "tercero")
            started = time.monotonic()
            shed = httpx.post(url, data=third, headers={"X-Twilio-Signature": sign(url, third)})
            shed_seconds = time.monotonic() - started
            holder.rollback()
            accepted = [future.result().status_code for future in blocked]
        assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
        assert shed_seconds < 5  # refused without waiting for the database
        assert accepted == [200, 200]
        # Twilio's retry of the refused message is accepted once the load is gone.
        retried = httpx.post(url, data=third, headers={"X-Twilio-Signature": sign(url, third)})
        assert retried.status_code == 200
    bodies = sorted(row["body"] for row in db.query("SELECT body FROM messages WHERE direction = 'inbound'"))
    assert bodies == ["mensaje 0", "mensaje 1", "primero", "tercero"]
