"""Owns the LangGraph Postgres checkpointer: its schema set-up, its connection pool and its pruning."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from memory.ai.thread import run_config_for

# The run-config key naming the conversation a run belongs to (see GuardedPostgresSaver).
CONVERSATION_KEY = "conversation_id"
_CONVERSATION_LOCK = (
    "SELECT 1 FROM chat_history WHERE advisor_id = %s::uuid AND conversation_id = %s::uuid FOR KEY SHARE"
)


class ConversationGoneError(Exception):
    """The conversation was erased while its turn ran: nothing of that turn may be remembered."""


class GuardedPostgresSaver(AsyncPostgresSaver):
    """LangGraph's Postgres saver, whose writes happen only while their conversation exists.

    Erasing a customer deletes their checkpoints; a turn already past its first read would
    otherwise write a new checkpoint when the model returns, and the customer's next message
    (a new conversation on the same thread id) would be given the erased words. Each write of a
    run whose config names its conversation (`CONVERSATION_KEY`) runs in one transaction that
    first takes a key-share lock on that `chat_history` row: the erasure (which locks the row
    for update before deleting) either waits for the write and then deletes it, or has already
    deleted the row, and the write is refused with ConversationGoneError. A new conversation of
    the same phone has another id, so it never lets an old turn's write through.
    """

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint, only if the run's conversation still exists (see the class)."""
        guard = _guard_of(config)
        if guard is None:
            return await super().aput(config, checkpoint, metadata, new_versions)
        async with self._guarded(config, guard) as saver:
            return await saver.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a run's pending writes, only if its conversation still exists."""
        guard = _guard_of(config)
        if guard is None:
            await super().aput_writes(config, writes, task_id, task_path)
            return
        async with self._guarded(config, guard) as saver:
            await saver.aput_writes(config, writes, task_id, task_path)

    @contextlib.asynccontextmanager
    async def _guarded(self, config: RunnableConfig, conversation: str) -> AsyncIterator[AsyncPostgresSaver]:
        advisor = str(config["configurable"].get("advisor_id") or "")
        async with _connection(self.conn) as conn, conn.transaction():
            cursor = await conn.execute(_CONVERSATION_LOCK, (advisor, conversation))
            if await cursor.fetchone() is None:
                raise ConversationGoneError(conversation)
            saver = AsyncPostgresSaver(conn, serde=self.serde)  # its statements join this transaction
            yield saver


@contextlib.asynccontextmanager
async def _connection(conn: Any) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    if isinstance(conn, AsyncConnectionPool):
        async with conn.connection() as lent:
            yield lent
    else:
        yield conn


def _guard_of(config: RunnableConfig) -> str | None:
    value = (config.get("configurable") or {}).get(CONVERSATION_KEY)
    return str(value) if value else None


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
    return GuardedPostgresSaver(pool), pool


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


async def remembered_summary(
    conn: psycopg.AsyncConnection[Any], *, advisor_id: UUID | str, phone: str
) -> str:
    """The running summary of a conversation's AI memory ("" before its first fold).

    Read from the latest checkpoint, as the agent resumes from it: an evaluation uses it to
    tell that a long conversation really was folded, not merely kept word for word. `conn`
    needs autocommit and dict rows, as every checkpointer connection does.
    """
    found = await AsyncPostgresSaver(conn).aget_tuple(run_config_for(advisor_id, phone))
    summary = found.checkpoint["channel_values"].get("summary") if found else None
    return str(summary.get("text") or "") if isinstance(summary, dict) else ""


async def summaries_in_checkpoints(conn: psycopg.AsyncConnection[Any]) -> list[tuple[str, str, int]]:
    """(thread id, summary, message id it covers up to) of every thread whose memory holds one.

    For `advisor-bot db upgrade`'s one copy of the summaries into the records (sql/0026); read as
    the agent resumes, from each thread's latest checkpoint. `conn` as for `remembered_summary`.
    """
    cursor = await conn.execute("SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''")
    threads = [row["thread_id"] for row in await cursor.fetchall()]
    saver = AsyncPostgresSaver(conn)
    found: list[tuple[str, str, int]] = []
    for thread in threads:
        latest = await saver.aget_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        summary = latest.checkpoint["channel_values"].get("summary") if latest else None
        if isinstance(summary, dict) and summary.get("text"):
            found.append((thread, str(summary["text"]), int(summary.get("through") or 0)))
    return found
