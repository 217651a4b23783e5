"""Owns the LangGraph agent: the graph, its tools and the chat model it calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from bot.openai_client import openai_api_key
from bot.settings import Settings
from memory.trimming import forget_beyond, messages_within_budget, pictures_as_text


@dataclass(frozen=True)
class AgentContext:
    """Per-run data that must not be checkpointed (LangGraph copies string config into metadata)."""

    system_prompt: str


class ConversationFlags(Protocol):
    """What the agent's tools may change, always for the advisor + customer of the run."""

    async def hand_over(self, *, advisor_id: str, phone: str, reason: str) -> None:
        """Stop the AI and leave the conversation to the human advisor."""

    async def set_audio(self, *, advisor_id: str, phone: str, enabled: bool) -> None:
        """Set whether the customer receives voice replies."""


def _conversation_of(config: RunnableConfig) -> tuple[str, str]:
    configurable = config.get("configurable") or {}
    advisor_id, phone = configurable.get("advisor_id"), configurable.get("phone_number")
    if not advisor_id or not phone:
        raise ValueError("the run config lacks advisor_id or phone_number")
    return str(advisor_id), str(phone)


def build_tools(flags: ConversationFlags) -> list[BaseTool]:
    """Return the agent's tools; each acts only on the conversation named in the run config."""

    @tool
    async def hand_over_to_advisor(reason: str, config: RunnableConfig) -> str:  # noqa: D417
        """Pass this conversation to the human advisor and stop answering it.

        Use it when the customer asks for a person, wants to close a deal or negotiate,
        complains, or asks something you cannot answer reliably.

        Args:
            reason: One short sentence the advisor reads: why a human should take over.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.hand_over(advisor_id=advisor_id, phone=phone, reason=reason[:500])
        return "The advisor has been notified and will continue this conversation."

    @tool
    async def set_audio_preference(enabled: bool, config: RunnableConfig) -> str:  # noqa: D417
        """Record whether the customer wants replies as voice notes (true) or text (false).

        Args:
            enabled: True when the customer asks for audio replies, false for text only.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.set_audio(advisor_id=advisor_id, phone=phone, enabled=enabled)
        return "Preference saved."

    return [hand_over_to_advisor, set_audio_preference]


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """Return the configured chat model, or None when neither a key nor a base URL is set.

    Retries belong to the job queue (with backoff and a bounded number of attempts), so the
    client itself does not retry.
    """
    if not settings.model_configured:
        return None
    return ChatOpenAI(
        model=settings.openai_model,
        api_key=openai_api_key(settings),  # type: ignore[arg-type]
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=0,
    )


def build_agent_graph(
    model: BaseChatModel,
    tools: list[BaseTool],
    *,
    prompt_token_budget: int,
    memory_token_budget: int | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the agent once: model ⇄ tools, memory in `checkpointer`, keyed by thread id.

    The system prompt arrives per run as `AgentContext`, so one compiled graph serves every
    advisor and the prompt is not copied into every checkpoint. The model sees the system
    prompt and the newest turns that fit in `prompt_token_budget`; the checkpoint keeps the
    newest turns within `memory_token_budget` (AI_MEMORY_TOKENS), pictures only until answered.
    """
    bound = model.bind_tools(tools)
    if memory_token_budget is None:
        memory_token_budget = prompt_token_budget

    async def call_model(
        state: MessagesState, config: RunnableConfig, runtime: Runtime[AgentContext]
    ) -> dict[str, list[Any]]:
        prompt = runtime.context.system_prompt if runtime.context else ""
        history = state["messages"]
        messages = messages_within_budget(prompt, history, max_tokens=prompt_token_budget)
        response = await bound.ainvoke(messages, config)
        if isinstance(response, AIMessage) and response.tool_calls:
            return {"messages": [response]}  # mid-turn: the tools may still need the pictures
        # The turn is answered: keep the memory bounded (see memory.trimming), in this same update
        # so that no extra checkpoint is written.
        removals = forget_beyond([*history, response], max_tokens=memory_token_budget)
        removed = {removal.id for removal in removals}
        return {"messages": [*removals, *pictures_as_text(history, keep=removed), response]}

    graph = StateGraph(MessagesState, context_schema=AgentContext)
    # The typed overloads cover nodes taking config or runtime, not both; LangGraph passes both.
    graph.add_node("agent", call_model)  # type: ignore[call-overload]
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", _route_after_agent, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer)


def _route_after_agent(state: MessagesState) -> str:
    """Go to the tools when the model asked for them; otherwise the turn is over.

    Unlike the prebuilt `tools_condition`, an update that carries no message (the worker
    removing a dropped reply with `update_state`) simply ends the turn.
    """
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def final_reply(messages: list[BaseMessage]) -> str:
    """Return the text of the last AI message of a run (what the customer should read)."""
    for message in reversed(messages):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return message.text.strip()
    return ""
