"""A real connection to the test database for the record queries, and two advisors to keep apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from memory.records import messages
from memory.records.models import InboundMessage
from tests.conftest import Db


@pytest.fixture
async def conn(db: Db) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(
        db.url, autocommit=True, row_factory=dict_row
    ) as connection:
        yield connection


@pytest.fixture
def ana(db: Db) -> UUID:
    return UUID(db.add_advisor("Ana", "+14155238886", phone="+573001000001"))


@pytest.fixture
def luis(db: Db) -> UUID:
    return UUID(db.add_advisor("Luis", "+14155238887", phone="+573001000002"))


async def answered_inbound(
    conn: psycopg.AsyncConnection[Any], advisor_id: UUID, conversation_id: UUID, sid: str = "SM1"
) -> tuple[int, int]:
    """A stored customer message and the AI's pending one-part reply to it: (inbound id, reply id)."""
    inbound = await messages.insert_inbound(
        conn=conn,
        advisor_id=advisor_id,
        conversation_id=conversation_id,
        message=InboundMessage(twilio_sid=sid, body="hola", media=[], payload={}),
    )
    assert inbound is not None
    [reply] = await messages.insert_pending_replies(
        conn=conn,
        advisor_id=advisor_id,
        conversation_id=conversation_id,
        reply_to=inbound,
        parts=["hola"],
        author="ai",
    )
    return inbound, reply
