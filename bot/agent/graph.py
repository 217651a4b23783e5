"""Owns the LangGraph agent's graph: model ⇄ tools, with a bounded memory per conversation."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from bot.agent.context import AgentContext
from memory.ai.trimming import forget_beyond, messages_within_budget, pictures_as_text

AGENT_NODE = "agent"  # memory edits outside a turn are written as this node's updates


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
        # The turn is answered: keep the memory bounded (see memory.ai.trimming), in this same update
        # so that no extra checkpoint is written.
        removals = forget_beyond([*history, response], max_tokens=memory_token_budget)
        removed = {removal.id for removal in removals}
        return {"messages": [*removals, *pictures_as_text(history, keep=removed), response]}

    graph = StateGraph(MessagesState, context_schema=AgentContext)
    # The typed overloads cover nodes taking config or runtime, not both; LangGraph passes both.
    graph.add_node(AGENT_NODE, call_model)  # type: ignore[call-overload]
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, AGENT_NODE)
    graph.add_conditional_edges(AGENT_NODE, _route_after_agent, {"tools": "tools", END: END})
    graph.add_edge("tools", AGENT_NODE)
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
