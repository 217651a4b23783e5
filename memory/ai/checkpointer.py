"""Owns the LangGraph Postgres checkpointer: its schema set-up, its connection pool and its pruning."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def checkpointer_connection_kwargs(*, transaction_pooler: bool) -> dict[str, Any]:
    """Return the options the Postgres checkpointer requires of every connection.

    It relies on autocommit and dict rows. `prepare_threshold=0` is what LangGraph documents;
    behind a transaction pooler prepared statements break, so they are switched off there.
    """
    return {
        "autocommit": True,
        "row_factory": dict_row,
        "prepare_threshold": None if transaction_pooler else 0,
    }


async def setup_checkpointer(conn: psycopg.AsyncConnection[Any]) -> int:
    """Create or upgrade the checkpoint tables; return how many migration steps ran."""
    count_before = await _applied_steps(conn)
    await AsyncPostgresSaver(conn).setup()
    return await _applied_steps(conn) - count_before


async def _applied_steps(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT to_regclass('checkpoint_migrations') IS NOT NULL AS ok")
    row = await cursor.fetchone()
    if not row or not row["ok"]:
        return 0
    cursor = await conn.execute("SELECT count(*) AS n FROM checkpoint_migrations")
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def open_checkpointer(
    conninfo: str,
    *,
    transaction_pooler: bool,
    max_size: int,
    check: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] = AsyncConnectionPool.check_connection,
) -> tuple[AsyncPostgresSaver, AsyncConnectionPool]:
    """Open the checkpointer on its own pool, lending connections after `check`; the caller closes it."""
    kwargs = checkpointer_connection_kwargs(transaction_pooler=transaction_pooler)
    pool = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={**kwargs, "application_name": "advisor-bot checkpointer"},
        open=False,
        name="checkpointer",
        check=check,
    )
    await pool.open(wait=True, timeout=30.0)
    return AsyncPostgresSaver(pool), pool


async def prune_superseded_checkpoints(checkpointer: AsyncPostgresSaver, *, batch: int = 500) -> int:
    """Delete every checkpoint of a conversation's AI memory but its latest; return threads pruned.

    The memory only ever resumes from the latest checkpoint; the older ones (one per turn) would
    make each conversation's storage grow by a whole memory snapshot per turn, for ever.
    LangGraph's own `aprune` does the work, one thread per transaction, safe beside a run that
    appends to the thread; a thread being written at that moment is skipped until next time.
    """
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = checkpointer.conn  # type: ignore[assignment]
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT thread_id FROM checkpoints WHERE checkpoint_ns = '' "
            "GROUP BY thread_id HAVING count(*) > 1 LIMIT %s",
            (batch,),
        )
        threads = [row["thread_id"] for row in await cursor.fetchall()]
    pruned = 0
    for thread_id in threads:
        try:
            await checkpointer.aprune([thread_id], strategy="keep_latest")
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
            continue
        pruned += 1
    return pruned
