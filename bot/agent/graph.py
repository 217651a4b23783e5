"""Owns the LangGraph agent's graph: model (its answers checked for figures) ⇄ tools, bounded memory.

Old turns are folded into the summary after the reply, outside this graph (bot.agent.folding).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from bot.agent.context import AgentContext
from bot.agent.grounding import has_figures, source_figures, ungrounded_figures
from bot.agent.rulebook import moment_message
from bot.agent.summary import unsummarised, with_summary
from bot.infra.metrics import MODEL_SECONDS
from bot.infra.usage import model_name_of, note_chat
from memory.ai.tokens import TokenCounter
from memory.ai.trimming import messages_within_budget, pictures_as_text

logger = logging.getLogger(__name__)

AGENT_NODE = "agent"
HAND_OVER_TOOL = "hand_over_to_advisor"
# Tools whose result tells the model nothing it did not know ("Perfil guardado."): called beside
# an answer, the answer stands, and no second full-prompt call is made to hear that they worked.
QUIET_TOOLS = frozenset({"update_customer_profile", "set_audio_preference"})


class RunningSummary(TypedDict):
    """The older turns in a few lines, and the `messages` row id they cover up to."""

    text: str
    through: int


class FoldRecord(TypedDict):
    """How a conversation's folds have gone (bot.agent.folding): failures in a row, turns to wait."""

    failures: int
    wait: int


class AgentState(MessagesState):
    """What the checkpoint keeps between turns: this turn's messages and the running summary.

    Earlier turns are not kept here: they are read from `messages` for every turn (see
    `AgentContext.history`), so each checkpoint holds one turn, not the whole memory. The
    summary is a dict, not a string, on purpose: the Postgres checkpointer stores strings inline
    in every checkpoint row, dicts as a blob written only when they change (once per fold).
    """

    summary: NotRequired[RunningSummary]
    fold: NotRequired[FoldRecord]
    # This turn's figure check: whether the reply was already sent back once, and what stayed
    # ungrounded after that (the worker then hands over instead of sending it).
    grounding_retried: NotRequired[bool]  # the answer was sent back once (figures, or empty)
    ungrounded: NotRequired[list[str]]
    # Set when the turn ends with no answer to send ("tool_rounds", "empty_answer"): the worker
    # sends the holding text and hands over.
    gave_up: NotRequired[str | None]


GROUNDING_NOTE = (
    "(Nota del sistema, no del cliente.) Tu respuesta menciona cifras que no aparecen en lo que el "
    "negocio escribió, en el perfil ni en la conversación: {figures}. Reescribe la respuesta sin "
    "esas cifras. Si el cliente las necesita, dile que el asesor se las confirma."
)
EMPTY_NOTE = (
    "(Nota del sistema, no del cliente.) Tu respuesta llegó vacía. Responde al último mensaje del "
    "cliente con un texto corto."
)
NOTE_ID_PREFIX = "grounding-note-"  # the check's own message: never a source of figures


def _check_note(text: str) -> HumanMessage:
    """The check's own message asking the model again; its id keeps it out of the sources."""
    return HumanMessage(text, id=f"{NOTE_ID_PREFIX}{uuid.uuid4().hex}")


def _is_check_note(message: BaseMessage) -> bool:
    return (message.id or "").startswith(NOTE_ID_PREFIX)


def summary_of(state: Any) -> RunningSummary:
    """The state's running summary; an empty one before the first fold."""
    found = state.get("summary") if state else None
    return found if found else RunningSummary(text="", through=0)


def build_agent_graph(
    model: BaseChatModel,
    tools: list[BaseTool],
    *,
    prompt_token_budget: int,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    max_tool_rounds: int = 8,
    token_counter: TokenCounter = count_tokens_approximately,
    prompt_cache_keys: bool = False,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the agent once: model ⇄ tools, each answer's figures checked, memory by thread id.

    The system prompt and the remembered turns arrive per run as `AgentContext`, so one compiled
    graph serves every advisor. The model sees the system prompt, the summary, the turns the
    summary does not cover and this turn, trimmed to `prompt_token_budget` as a last guard.
    Budgets are counted by `token_counter` (the model's tokenizer, or an estimate). With
    `prompt_cache_keys`, each request names its advisor's cache (`prompt_cache_key_for`).
    """
    bound = model.bind_tools(tools)
    model_name = model_name_of(model)

    async def ask_model(
        state: AgentState, config: RunnableConfig, context: AgentContext, this_turn: list[BaseMessage]
    ) -> BaseMessage:
        summary = summary_of(state)
        earlier = [item.message for item in unsummarised(context.history, summary["through"])]
        messages = messages_within_budget(
            with_summary(context.system_prompt, summary["text"]),
            earlier,
            current=[*moment_message(context.turn_note), *this_turn],
            max_tokens=prompt_token_budget,
            counter=token_counter,
        )
        advisor = str((config.get("configurable") or {}).get("advisor_id", "unknown"))
        started = time.perf_counter()
        extra = {"prompt_cache_key": prompt_cache_key_for(advisor)} if prompt_cache_keys else {}
        response = await bound.ainvoke(messages, config, **extra)
        MODEL_SECONDS.labels(advisor).observe(time.perf_counter() - started)
        note_chat("answer", response, model_name)  # counted and priced by the job (bot.worker.usage)
        return response

    async def call_model(
        state: AgentState, config: RunnableConfig, runtime: Runtime[AgentContext]
    ) -> dict[str, Any]:
        """Ask the model; an answer (no tool calls) is checked here before the turn ends.

        The figure check is part of this node, not a node of its own: a node is a superstep of
        LangGraph's loop, and every answer would pay for one more. An answer the check sends
        back is asked again here, with the check's note.
        """
        context = runtime.context or AgentContext(system_prompt="")
        this_turn: list[BaseMessage] = list(state["messages"])
        rounds = sum(1 for message in this_turn if isinstance(message, AIMessage) and message.tool_calls)
        if rounds >= max_tool_rounds:  # one message once made 1,894 model calls: stop, a person answers
            logger.warning("the model kept calling tools; stopped", extra={"rounds": rounds})
            return {"messages": [], "gave_up": "tool_rounds"}
        retried = bool(state.get("grounding_retried"))
        written: list[BaseMessage] = []
        answered = answer_beside_quiet_tools(this_turn)
        response = answered if answered is not None else await ask_model(state, config, context, this_turn)
        while True:
            if isinstance(response, AIMessage) and response.tool_calls:
                # Mid-turn: the tools may still need the pictures.
                return {"messages": [*written, response], "grounding_retried": retried}
            # The turn is answered: pictures leave the checkpoint in this same update.
            answer = [*pictures_as_text(this_turn), response]
            written += answer
            this_turn = _with(this_turn, answer)
            verdict, note = check_figures(state, context, this_turn, retried=retried)
            if note is None:
                return {"messages": written, "grounding_retried": retried, **verdict}
            retried = True
            written.append(note)
            this_turn = [*this_turn, note]
            response = await ask_model(state, config, context, this_turn)

    graph = StateGraph(AgentState, context_schema=AgentContext)
    # The typed overloads cover nodes taking config or runtime, not both; LangGraph passes both.
    graph.add_node(AGENT_NODE, call_model)  # type: ignore[call-overload]
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, AGENT_NODE)
    graph.add_conditional_edges(AGENT_NODE, _route_after_agent, {"tools": "tools", END: END})
    graph.add_edge("tools", AGENT_NODE)
    return graph.compile(checkpointer=checkpointer)


def _with(this_turn: list[BaseMessage], update: list[BaseMessage]) -> list[BaseMessage]:
    """The turn's messages once `update` is applied, as the graph's reducer applies it (by id)."""
    merged: Any = add_messages(cast(Any, this_turn), cast(Any, update))
    return list(merged)


def check_figures(
    state: AgentState, context: AgentContext, this_turn: list[BaseMessage], *, retried: bool
) -> tuple[dict[str, Any], HumanMessage | None]:
    """Every figure of the answer must come from this turn's sources (`bot.agent.grounding`).

    Returns the state it sets and, when the answer goes back to the model, the note to send:
    an answer with figures nobody gave (or none at all) is asked again once, naming them; if
    the second answer still has some, `ungrounded` says which and the worker does not send it.
    """
    answer = this_turn[-1] if this_turn else None
    if not isinstance(answer, AIMessage):
        return {}, None
    handed_over = any(
        call["name"] == HAND_OVER_TOOL
        for message in this_turn
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    )
    if not answer.text.strip() and not handed_over:  # nothing to say (a hand-over may say nothing)
        if retried:
            logger.warning("the model answered nothing, twice")
            return {"gave_up": "empty_answer"}, None
        return {}, _check_note(EMPTY_NOTE)
    if not has_figures(answer.text):
        return {"ungrounded": []}, None
    sources = source_figures(
        [
            context.system_prompt,
            context.turn_note,
            summary_of(state)["text"],
            *(item.message.text for item in context.history),
            *(
                message.text
                for message in this_turn[:-1]
                if not isinstance(message, AIMessage) and not _is_check_note(message)
            ),
        ]
    )
    missing = ungrounded_figures(answer.text, sources)
    if not missing:
        return {"ungrounded": []}, None
    if retried:
        logger.warning("answer still has figures nobody gave; not sent", extra={"figures": missing})
        return {"ungrounded": missing}, None
    logger.info("answer has figures nobody gave; asked again", extra={"figures": missing})
    return {}, _check_note(GROUNDING_NOTE.format(figures=", ".join(missing)))


def prompt_cache_key_for(advisor_id: str) -> str:
    """The advisor's stable cache key: their conversations share a prefix, so one cache serves them.

    A digest, not the id itself: the key goes to the model's provider, which needs only its
    stability.
    """
    return "advisor-" + hashlib.sha256(advisor_id.encode()).hexdigest()[:16]


def new_turn(humans: list[HumanMessage]) -> dict[str, Any]:
    """The graph input for a turn: the last turn leaves the checkpoint, the customer's messages enter.

    Whatever an earlier, interrupted attempt of this turn left there goes too: the model never
    sees an answer the customer did not receive. The figure check starts afresh.
    """
    return {
        "messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *humans],
        "grounding_retried": False,
        "ungrounded": [],
        "gave_up": None,
    }


def answer_beside_quiet_tools(this_turn: Sequence[BaseMessage]) -> AIMessage | None:
    """The answer the model wrote beside quiet tools that all worked, as the turn's reply; else None.

    Only when every call of the last response was a quiet one, each answered with success:
    a failed call, or any other tool, goes back to the model as before.
    """
    results = []
    for message in reversed(this_turn):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    asked = this_turn[-len(results) - 1] if results and len(results) < len(this_turn) else None
    if not isinstance(asked, AIMessage) or not asked.tool_calls or not asked.text.strip():
        return None
    if any(call["name"] not in QUIET_TOOLS for call in asked.tool_calls):
        return None
    if any(result.status != "success" for result in results):
        return None
    return AIMessage(content=asked.text, id=f"{asked.id}-answer" if asked.id else None)


# The routes are coroutines: LangGraph runs a plain function of an async graph in a thread,
# which cost a thread hop per route per answer.
async def _route_after_agent(state: AgentState) -> str:
    """Go to the tools when the model asked for them; otherwise the turn is answered (and checked)."""
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def answer_sources(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """The knowledge passages this turn's searches returned, each once, ranked in the order found.

    They are the tool's artifacts (never shown to the model): what the answer's sources record.
    """
    found: dict[int, dict[str, Any]] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and isinstance(message.artifact, list):
            for passage in message.artifact:
                if isinstance(passage, dict) and isinstance(passage.get("passage_id"), int):
                    found.setdefault(passage["passage_id"], {**passage, "rank": len(found) + 1})
    return list(found.values())


def offered_choices(messages: list[BaseMessage]) -> dict[str, Any] | None:
    """The choices this turn offered (the last accepted `offer_choices`), as a message row keeps them."""
    offered = None
    for message in messages:
        if isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
            offered = message.artifact.get("choices") or offered
    return offered


def final_reply(messages: list[BaseMessage]) -> str:
    """Return the text of the last AI message of a run (what the customer should read)."""
    for message in reversed(messages):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return message.text.strip()
    return ""
