"""The guarded saver's one-statement writes store what LangGraph's own saver stores, and only
while the conversation exists (memory.ai.checkpointer.GuardedPostgresSaver)."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict
from uuid import UUID

import psycopg
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg.rows import dict_row

from memory.ai.checkpointer import (
    CONVERSATION_KEY,
    DEFERRED_KEY,
    PRELOADED_KEY,
    ConversationGoneError,
    DeferredWrites,
    GuardedPostgresSaver,
    PreloadedCheckpoint,
    checkpointer_connection_kwargs,
    latest_checkpoint_sql,
    open_checkpointer,
)
from memory.ai.thread import run_config_for, thread_id_for
from memory.records.turn_start import read_turn_start
from memory.threads import thread_id_sql
from tests.conftest import Db


class _State(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    summary: dict[str, Any]  # a blob, as the agent's running summary is
    turns: Annotated[int, operator.add]  # inline
    note: str  # inline


async def _reply(state: _State) -> dict[str, Any]:
    said = state["messages"][-1].text
    return {
        "messages": [AIMessage(f"eco: {said}")],
        "summary": {"text": f"dijo {said}", "through": len(state["messages"])},
        "turns": 1,
        "note": said,
    }


def _graph(checkpointer: AsyncPostgresSaver) -> Any:
    graph = StateGraph(_State)
    graph.add_node("reply", _reply)
    graph.add_edge(START, "reply")
    graph.add_edge("reply", END)
    return graph.compile(checkpointer=checkpointer)


async def _run_turns(saver: AsyncPostgresSaver, config: Any, *, durability: str) -> None:
    graph = _graph(saver)
    for said in ("hola", "¿cuánto cuesta?", "gracias"):
        await graph.ainvoke({"messages": [HumanMessage(said, id=f"h-{said}")]}, config, durability=durability)


def _comparable(state: Any) -> dict[str, Any]:
    values = dict(state.values)
    values["messages"] = [(type(m).__name__, m.text) for m in values["messages"]]
    return values


@pytest.mark.parametrize("durability", ["exit", "async"])
async def test_what_it_stores_reads_back_as_langgraphs_own_saver_stored_it(db: Db, durability: str) -> None:
    advisor = db.add_advisor("Ana", "+14155238886", phone="+573001000001")
    conversation = db.add_customer(advisor, "+573009990001", name="Eva", labels=[])
    guarded, pool = await open_checkpointer(db.url, transaction_pooler=False, max_size=2)
    try:
        ours = run_config_for(advisor, "+573009990001", **{CONVERSATION_KEY: conversation})
        theirs = run_config_for(advisor, "+573009990002")  # no conversation named: LangGraph's own path
        await _run_turns(guarded, ours, durability=durability)
        await _run_turns(guarded, theirs, durability=durability)
        kwargs = checkpointer_connection_kwargs(transaction_pooler=False)
        async with await psycopg.AsyncConnection.connect(db.url, **kwargs) as conn:
            stock = _graph(AsyncPostgresSaver(conn))
            ours_read = await stock.aget_state(ours)
            theirs_read = await stock.aget_state(theirs)
            guarded_read = await _graph(guarded).aget_state(ours)
    finally:
        await pool.close()
    assert ours_read.values["turns"] == 3
    assert ours_read.values["summary"] == {"text": "dijo gracias", "through": 5}
    assert _comparable(ours_read) == _comparable(theirs_read) == _comparable(guarded_read)
    assert [m.text for m in ours_read.values["messages"]][-2:] == ["gracias", "eco: gracias"]
    assert ours_read.next == theirs_read.next == ()


async def test_a_write_for_an_erased_conversation_is_refused_and_leaves_nothing(db: Db) -> None:
    advisor = db.add_advisor("Ana", "+14155238886", phone="+573001000001")
    conversation = db.add_customer(advisor, "+573009990001", name="Eva", labels=[])
    guarded, pool = await open_checkpointer(db.url, transaction_pooler=False, max_size=2)
    config = run_config_for(advisor, "+573009990001", **{CONVERSATION_KEY: conversation})
    try:
        await _run_turns(guarded, config, durability="exit")
        stored = db.count("checkpoints"), db.count("checkpoint_blobs")
        db.query("DELETE FROM chat_history WHERE conversation_id = %s", (conversation,))
        with pytest.raises(ConversationGoneError):
            await _run_turns(guarded, config, durability="exit")
        with pytest.raises(ConversationGoneError):
            await guarded.aput_writes(
                {"configurable": {**config["configurable"], "checkpoint_ns": "", "checkpoint_id": "x"}},
                [("messages", [])],
                task_id="t",
            )
    finally:
        await pool.close()
    assert (db.count("checkpoints"), db.count("checkpoint_blobs")) == stored
    assert db.count("checkpoint_writes") == 0


@contextlib.asynccontextmanager
async def _eva_of_ana(db: Db) -> AsyncIterator[tuple[str, str, GuardedPostgresSaver, Any]]:
    """Ana's customer Eva: (advisor, conversation, the guarded saver, Eva's run config)."""
    advisor = db.add_advisor("Ana", "+14155238886", phone="+573001000001")
    conversation = db.add_customer(advisor, "+573009990001", name="Eva", labels=[])
    guarded, pool = await open_checkpointer(db.url, transaction_pooler=False, max_size=2)
    try:
        yield (
            advisor,
            conversation,
            guarded,
            run_config_for(advisor, "+573009990001", **{CONVERSATION_KEY: conversation}),
        )
    finally:
        await pool.close()


async def test_a_checkpoint_read_with_the_turns_first_statement_serves_the_runs_one_read(db: Db) -> None:
    """The worker reads the AI's memory beside the turn's records (read_turn_start's `joined`)."""
    advisor = db.add_advisor("Ana", "+14155238886", phone="+573001000001")
    conversation = db.add_customer(advisor, "+573009990001", name="Eva", labels=[])
    guarded, pool = await open_checkpointer(db.url, transaction_pooler=False, max_size=2)
    config = run_config_for(advisor, "+573009990001", **{CONVERSATION_KEY: conversation})
    read = latest_checkpoint_sql(
        f"(SELECT {thread_id_sql()} FROM chat_history "
        "WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s)"
    )
    try:
        await _run_turns(guarded, config, durability="exit")
        connect = psycopg.AsyncConnection.connect(db.url, autocommit=True, row_factory=dict_row)
        async with await connect as conn:
            start = await read_turn_start(
                conn=conn,
                advisor_id=UUID(advisor),
                conversation_id=UUID(conversation),
                message_id=0,
                max_attempts=3,
                history_chars=1000,
                loop_window_seconds=60,
                joined=(read, {}),
            )
        assert start.conversation is not None and start.joined is not None
        preloaded = PreloadedCheckpoint(thread_id_for(advisor, "+573009990001"), start.joined)
        expected = _comparable(await _graph(guarded).aget_state(config))
        db.query("DELETE FROM checkpoints")  # what serves the next read is the row read ahead
        ahead = {"configurable": {**config["configurable"], PRELOADED_KEY: preloaded}}
        assert _comparable(await _graph(guarded).aget_state(ahead)) == expected
        assert (await _graph(guarded).aget_state(ahead)).values == {}  # once: then the database's
    finally:
        await pool.close()


async def test_a_thread_with_no_checkpoint_is_read_ahead_as_none_and_another_threads_row_serves_nothing(
    db: Db,
) -> None:
    async with _eva_of_ana(db) as (advisor, conversation, guarded, config):
        empty = {
            "configurable": {
                **config["configurable"],
                PRELOADED_KEY: PreloadedCheckpoint(thread_id_for(advisor, "+573009990001"), None),
            }
        }
        assert (await _graph(guarded).aget_state(empty)).values == {}
        await _run_turns(guarded, config, durability="exit")
        other = {"thread_id": "someone-else", "checkpoint": {"v": 4}}
        wrong = {
            "configurable": {
                **config["configurable"],
                PRELOADED_KEY: PreloadedCheckpoint(thread_id_for(advisor, "+573009990001"), other),
            }
        }
        assert (await _graph(guarded).aget_state(wrong)).values["turns"] == 3  # read from the database


def test_the_thread_id_in_sql_is_the_thread_id_in_python(db: Db) -> None:
    advisor = db.add_advisor("Ana", "+14155238886", phone="+573001000001")
    db.add_customer(advisor, "+573009990001", name="Eva", labels=[])
    rows = db.query(f"SELECT {thread_id_sql()} AS thread FROM chat_history WHERE advisor_id = %s", (advisor,))
    assert rows == [{"thread": thread_id_for(advisor, "+573009990001")}]


async def test_writes_held_for_the_turns_end_store_nothing_until_made_and_then_what_a_run_stores(
    db: Db,
) -> None:
    async with _eva_of_ana(db) as (advisor, conversation, guarded, config):
        writes = DeferredWrites()
        held = {"configurable": {**config["configurable"], DEFERRED_KEY: writes}}
        await _graph(guarded).ainvoke({"messages": [HumanMessage("hola", id="h-1")]}, held, durability="exit")
        assert db.count("checkpoints") == 0  # a turn that ends before its record keeps no memory
        connect = psycopg.AsyncConnection.connect(db.url, autocommit=True, row_factory=dict_row)
        async with await connect as conn, conn.transaction():
            for sql, params in writes.take():
                await conn.execute(sql, params)
        state = await _graph(guarded).aget_state(config)
        assert state.values["note"] == "hola" and state.values["turns"] == 1
        # Closed once taken: the same config's later writes (the fold's) are made at once.
        await _graph(guarded).ainvoke({"messages": [HumanMessage("otra", id="h-2")]}, held, durability="exit")
        assert (await _graph(guarded).aget_state(config)).values["turns"] == 2
        assert writes.take() == []
