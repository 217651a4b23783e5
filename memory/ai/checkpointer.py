"""Owns the LangGraph Postgres checkpointer: its schema set-up, its connection pool and its pruning."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from memory.ai.thread import run_config_for

# The run-config key naming the conversation a run belongs to (see GuardedPostgresSaver).
CONVERSATION_KEY = "conversation_id"
# One statement each for a guarded checkpoint and a guarded set of writes: the lock on the
# conversation's row, then the rows LangGraph's own statements would write, only under it.
# The INSERTs read `guard`, so they run after it has taken its lock (or found no row).
_GUARD = """guard AS (SELECT 1 FROM chat_history
  WHERE advisor_id = %(advisor)s::uuid AND conversation_id = %(conversation)s::uuid FOR KEY SHARE)"""
_PUT_CHECKPOINT = f"""
WITH {_GUARD},
blobs AS (
  INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
  SELECT %(thread)s, %(ns)s, b.channel, b.version, b.type, b.blob
    FROM unnest(%(channels)s::text[], %(versions)s::text[], %(types)s::text[], %(blobs)s::bytea[])
         AS b(channel, version, type, blob)
   WHERE EXISTS (SELECT 1 FROM guard)
  ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
),
saved AS (
  INSERT INTO checkpoints
    (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
  SELECT %(thread)s, %(ns)s, %(checkpoint_id)s, %(parent_id)s, %(checkpoint)s, %(metadata)s
   WHERE EXISTS (SELECT 1 FROM guard)
  ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
  DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
)
SELECT EXISTS (SELECT 1 FROM guard) AS kept
"""  # noqa: S608 - the interpolated part is ours
_PUT_WRITES = f"""
WITH {_GUARD},
written AS (
  INSERT INTO checkpoint_writes
    (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
  SELECT %(thread)s, %(ns)s, %(checkpoint_id)s, %(task_id)s, %(task_path)s, w.idx, w.channel, w.type, w.blob
    FROM unnest(%(indexes)s::int[], %(channels)s::text[], %(types)s::text[], %(blobs)s::bytea[])
         AS w(idx, channel, type, blob)
   WHERE EXISTS (SELECT 1 FROM guard)
  ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) {{on_conflict}}
)
SELECT EXISTS (SELECT 1 FROM guard) AS kept
"""  # noqa: S608 - the interpolated part is ours
_WRITES_REPLACE = _PUT_WRITES.format(
    on_conflict="DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"
)
_WRITES_KEEP = _PUT_WRITES.format(on_conflict="DO NOTHING")


# The run-config key of a turn's checkpoint read ahead of the run (see PreloadedCheckpoint).
PRELOADED_KEY = "__advisor_bot_preloaded_checkpoint"


def latest_checkpoint_sql(thread: str) -> str:
    """A thread's latest checkpoint as LangGraph's saver reads it (in binary, as it does).

    `thread` is the SQL that gives the thread id: a parameter, or an expression.
    """
    return (
        AsyncPostgresSaver.SELECT_SQL
        + f"WHERE thread_id = {thread} AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1"
    )


class PreloadedCheckpoint:
    """A thread's latest checkpoint, read with the turn's own first read: its run reads no other.

    The worker reads it (`LATEST_CHECKPOINT_SQL`) in the statement that starts the turn, while
    the job holds the conversation's queue lock, so no other run writes the thread meanwhile.
    It serves one read: any later read of the run's config (the fold, a second run) goes to the
    database. `row` is None when the thread has no checkpoint yet.
    """

    def __init__(self, thread_id: str, row: dict[str, Any] | None) -> None:
        # A row of another thread (a read built wrong) serves nothing: the run reads its own.
        self.thread_id, self._row = thread_id, row
        self._taken = row is not None and row.get("thread_id") != thread_id

    def take(self, thread_id: str) -> tuple[bool, Any]:
        """(whether it serves this read, the row): once, for its own thread only."""
        if self._taken or thread_id != self.thread_id:
            return False, None
        self._taken = True
        return True, self._row


# The run-config key of a run's checkpoint writes, held for the turn's end (see DeferredWrites).
DEFERRED_KEY = "__advisor_bot_deferred_writes"


class DeferredWrites:
    """A run's guarded checkpoint writes, held to be made in the transaction that ends the turn.

    The worker runs them beside the reply it records (memory.records.turn_end), after that
    transaction has locked the conversation: one round trip fewer per turn, and the AI's memory
    of a turn is kept exactly when its reply is. A turn that fails before its end keeps
    neither; its retry starts from the memory before it. Once taken, the holder is closed:
    later writes of the same config (the fold after the reply) are made at once.
    """

    def __init__(self) -> None:
        self._statements: list[tuple[str, dict[str, Any]]] = []
        self._closed = False

    def hold(self, sql: str, params: dict[str, Any]) -> bool:
        """Keep one write for later; False once the holder is closed (the caller makes it now)."""
        if self._closed:
            return False
        self._statements.append((sql, params))
        return True

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """The writes held, in order; none are held after this."""
        self._closed = True
        held, self._statements = self._statements, []
        return held


class ConversationGoneError(Exception):
    """The conversation was erased while its turn ran: nothing of that turn may be remembered."""


class GuardedPostgresSaver(AsyncPostgresSaver):
    """LangGraph's Postgres saver, whose writes happen only while their conversation exists.

    Erasing a customer deletes their checkpoints; a turn already past its first read would
    otherwise write a new checkpoint when the model returns, and the customer's next message
    (a new conversation on the same thread id) would be given the erased words. Each write of a
    run whose config names its conversation (`CONVERSATION_KEY`) is one statement that first
    takes a key-share lock on that `chat_history` row: the erasure (which locks the row for
    update before deleting) either waits for the write and then deletes it, or has already
    deleted the row, and the write is refused with ConversationGoneError. A new conversation of
    the same phone has another id, so it never lets an old turn's write through.

    One statement, not LangGraph's transaction of five (BEGIN, the lock, blobs, checkpoint,
    COMMIT) per write: the same rows, in autocommit, atomic as any statement is. Values are
    serialised in the event loop, not handed to a thread per write, and reads and writes do not
    queue behind the saver's one process-wide lock: each takes its own pooled connection.
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
        configurable = config["configurable"]
        thread_id, checkpoint_ns = configurable["thread_id"], configurable["checkpoint_ns"]
        # What LangGraph's aput stores inline and what as blobs, the same way.
        inline_values: dict[str, Any] = dict(checkpoint["channel_values"])
        blob_values: dict[str, Any] = {}
        for channel, value in checkpoint["channel_values"].items():
            if isinstance(value, _DeltaSnapshot):
                blob_values[channel] = inline_values.pop(channel)
                inline_values[channel] = True
            elif value is not None and not isinstance(value, str | int | float | bool):
                blob_values[channel] = inline_values.pop(channel)
        inline = {**checkpoint, "channel_values": inline_values}
        blobs = self._dump_blobs(
            thread_id,
            checkpoint_ns,
            blob_values,
            {channel: version for channel, version in new_versions.items() if channel in blob_values},
        )
        await self._guarded_statement(
            _PUT_CHECKPOINT,
            config,
            guard,
            {
                "channels": [row[2] for row in blobs],
                "versions": [row[3] for row in blobs],
                "types": [row[4] for row in blobs],
                "blobs": [row[5] for row in blobs],
                "checkpoint_id": checkpoint["id"],
                "parent_id": configurable.get("checkpoint_id"),
                "checkpoint": Jsonb(inline),
                "metadata": Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
            },
        )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

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
        configurable = config["configurable"]
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        replace = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        await self._guarded_statement(
            _WRITES_REPLACE if replace else _WRITES_KEEP,
            config,
            guard,
            {
                "checkpoint_id": configurable["checkpoint_id"],
                "task_id": task_id,
                "task_path": task_path,
                "indexes": [row[5] for row in rows],
                "channels": [row[6] for row in rows],
                "types": [row[7] for row in rows],
                "blobs": [row[8] for row in rows],
            },
        )

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """A thread's latest checkpoint, on a connection of its own; a named one as LangGraph reads it."""
        if get_checkpoint_id(config) or self.pipe is not None:
            return await super().aget_tuple(config)
        configurable = config["configurable"]
        preloaded = configurable.get(PRELOADED_KEY)
        if isinstance(preloaded, PreloadedCheckpoint) and not configurable.get("checkpoint_ns"):
            serves, row = preloaded.take(configurable["thread_id"])
            if serves:
                return await self._tuple_of(row, config)
        async with _connection(self.conn) as conn, conn.cursor(binary=True, row_factory=dict_row) as cur:
            await cur.execute(
                self.SELECT_SQL
                + "WHERE thread_id = %s AND checkpoint_ns = %s ORDER BY checkpoint_id DESC LIMIT 1",
                (configurable["thread_id"], configurable.get("checkpoint_ns", "")),
                binary=True,
            )
            value = await cur.fetchone()
        return await self._tuple_of(value, config)

    async def _tuple_of(self, value: DictRow | None, config: RunnableConfig) -> CheckpointTuple | None:
        if value is None:
            return None
        if value["checkpoint"]["v"] < 4 and value["parent_checkpoint_id"]:
            return await super().aget_tuple(config)  # a pre-v4 checkpoint: LangGraph migrates it
        return await self._load_checkpoint_tuple(value)

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        """LangGraph's own conversion of a row, with the pending writes decoded in the event loop."""
        thread = {"thread_id": value["thread_id"], "checkpoint_ns": value["checkpoint_ns"]}
        parent = value["parent_checkpoint_id"]
        return CheckpointTuple(
            {"configurable": {**thread, "checkpoint_id": value["checkpoint_id"]}},
            {  # type: ignore[typeddict-item]  # the row's checkpoint holds the other keys
                **value["checkpoint"],
                "channel_values": {
                    **(value["checkpoint"].get("channel_values") or {}),
                    **self._load_blobs(value["channel_values"]),
                },
            },
            value["metadata"],
            {"configurable": {**thread, "checkpoint_id": parent}} if parent else None,
            self._load_writes(value["pending_writes"]),
        )

    async def _guarded_statement(
        self, sql: str, config: RunnableConfig, conversation: str, values: dict[str, Any]
    ) -> None:
        configurable = config["configurable"]
        params = {
            **values,
            "advisor": str(configurable.get("advisor_id") or ""),
            "conversation": conversation,
            "thread": configurable["thread_id"],
            "ns": configurable["checkpoint_ns"],
        }
        deferred = configurable.get(DEFERRED_KEY)
        if isinstance(deferred, DeferredWrites) and deferred.hold(sql, params):
            return  # made by the turn's end, whose lock on the conversation guards it the same way
        async with _connection(self.conn) as conn:
            cursor = await conn.execute(sql, params)
            row = await cursor.fetchone()
        if not row or not _kept(row):
            raise ConversationGoneError(conversation)


def _kept(row: Any) -> bool:
    return bool(row["kept"] if isinstance(row, dict) else row[0])


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
