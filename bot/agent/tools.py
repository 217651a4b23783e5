"""Owns the agent's tools: what the model may change, always for the advisor + customer of the run.

The tools only say what to do; `ConversationFlags` is the database side, implemented by the
worker (`bot.worker.conversation_flags`), so the agent never holds a connection of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from memory.records.handover_briefs import HandoverCategory


class ConversationFlags(Protocol):
    """What the agent's tools may change, always for the advisor + customer of the run."""

    async def hand_over(
        self,
        *,
        advisor_id: str,
        phone: str,
        reason: str,
        category: HandoverCategory,
        waiting_draft: str | None = None,
    ) -> str:
        """Stop the AI and leave the conversation to the human advisor; say when they answer.

        `waiting_draft`: the AI's draft that waited unapproved (draft mode), for the brief.
        """

    async def set_audio(self, *, advisor_id: str, phone: str, enabled: bool) -> None:
        """Set whether the customer receives voice replies."""

    async def update_profile(
        self,
        *,
        advisor_id: str,
        phone: str,
        name: str | None,
        facts: dict[str, str] | None,
        labels: list[str] | None,
        stage: str | None,
        marketing_consent: bool | None = None,
    ) -> None:
        """Remember who the customer is: name, facts (merged), labels (added), stage, consent."""


@dataclass(frozen=True)
class FoundPassage:
    """A passage a search returned: what the model reads, and where it came from (the sources)."""

    document: str
    passage_id: int
    body: str


class KnowledgeSearch(Protocol):
    """What the business sells, searched for one advisor (their documents and the shared ones)."""

    async def search(self, *, advisor_id: str, query: str) -> list[FoundPassage]:
        """The best passages for `query`, best first."""


def _conversation_of(config: RunnableConfig) -> tuple[str, str]:
    configurable = config.get("configurable") or {}
    advisor_id, phone = configurable.get("advisor_id"), configurable.get("phone_number")
    if not advisor_id or not phone:
        raise ValueError("the run config lacks advisor_id or phone_number")
    return str(advisor_id), str(phone)


def build_tools(flags: ConversationFlags, knowledge: KnowledgeSearch | None = None) -> list[BaseTool]:
    """Return the agent's tools; each acts only on the conversation named in the run config."""

    @tool
    async def hand_over_to_advisor(  # noqa: D417
        reason: str, category: HandoverCategory, config: RunnableConfig
    ) -> str:
        """Pass this conversation to the human advisor and stop answering it.

        Use it when the customer asks for a person, wants to close a deal or negotiate,
        complains, or asks something you cannot answer reliably.

        Args:
            reason: One short sentence the advisor reads: why a human should take over.
            category: The kind of hand-over: customer_request (asks for a person),
                missing_knowledge (the answer is not in what the business wrote), negotiation
                (discounts, closing a deal), complaint (anger, a problem), out_of_scope (keeps
                asking for things the business does not do), after_hours, tool_failure, loop.
        """
        advisor_id, phone = _conversation_of(config)
        return await flags.hand_over(
            advisor_id=advisor_id, phone=phone, reason=reason[:500], category=category
        )

    @tool
    async def set_audio_preference(enabled: bool, config: RunnableConfig) -> str:  # noqa: D417
        """Record whether the customer wants replies as voice notes (true) or text (false).

        Args:
            enabled: True when the customer asks for audio replies, false for text only.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.set_audio(advisor_id=advisor_id, phone=phone, enabled=enabled)
        return "Preference saved."

    @tool
    async def update_customer_profile(  # noqa: D417
        config: RunnableConfig,
        name: str | None = None,
        facts: dict[str, str] | None = None,
        labels: list[str] | None = None,
        stage: Literal["new", "interested", "booked", "inactive"] | None = None,
        marketing_consent: bool | None = None,
    ) -> str:
        """Remember what the customer told you about themselves, for this and later conversations.

        Use it when the customer gives their name, a fact worth remembering (city, budget,
        family, what they want), when a label fits, or when the sales stage changes.

        Args:
            name: The name the customer gave (not a guess).
            facts: Short facts, e.g. {"ciudad": "Cali", "presupuesto": "200 millones"}.
            labels: Labels to add, e.g. ["interesado en arriendo"].
            stage: "interested" once they show real interest, "booked" once a visit or purchase
                is agreed, "inactive" if they say they are no longer interested.
            marketing_consent: true only when the customer says yes to receiving offers and news
                later; false when they say they do not want them. Never assume it.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.update_profile(
            advisor_id=advisor_id,
            phone=phone,
            name=name[:200] if name else None,
            facts={str(k)[:50]: str(v)[:500] for k, v in list((facts or {}).items())[:20]} or None,
            labels=[label[:50] for label in (labels or [])[:20]] or None,
            stage=stage,
            marketing_consent=marketing_consent,
        )
        return "Profile saved."

    @tool(response_format="content_and_artifact")
    async def search_knowledge(query: str, config: RunnableConfig) -> tuple[str, list[dict[str, Any]]]:  # noqa: D417
        """Search what the business sells: products, prices, availability, conditions, FAQ.

        State prices, availability and conditions only from what this search returns, never
        from memory or guesses. When it finds nothing that answers the customer, say you will
        check, and hand the conversation over to the advisor.

        Args:
            query: The customer's question in a few words, e.g. "precio apartamento 2 habitaciones".
        """
        advisor_id, _ = _conversation_of(config)
        assert knowledge is not None
        found = await knowledge.search(advisor_id=advisor_id, query=query[:500])
        if not found:
            return "Nothing found. Do not invent an answer: offer to check and hand over to the advisor.", []
        # The model reads the passages; the artifact (never sent to it) is what the answer's
        # sources record.
        text = "\n\n".join(f"[{passage.document}]\n{passage.body}" for passage in found)
        return text, [{"document": p.document, "passage_id": p.passage_id} for p in found]

    tools: list[BaseTool] = [hand_over_to_advisor, set_audio_preference, update_customer_profile]
    return [*tools, search_knowledge] if knowledge is not None else tools
