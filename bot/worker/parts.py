"""Owns what every job of the worker is handed: the process's long-lived clients, and what a job did."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from langgraph.graph.state import CompiledStateGraph
from psycopg_pool import AsyncConnectionPool

from advisors.models import Advisor
from bot.agent.folding import MemoryFolder
from bot.agent.memory_edits import AgentMemory
from bot.agent.speech import Synthesizer
from bot.agent.tools import ConversationFlags
from bot.agent.transcription import Transcriber
from bot.infra.events import EventPublisher
from bot.infra.pricing import Pricing
from bot.settings import Settings
from bot.twilio.media_hosting import MediaStore
from bot.twilio.sender import TwilioSender
from memory.knowledge.searcher import KnowledgeSearcher
from memory.records.models import Conversation


@dataclass(frozen=True)
class WorkerParts:
    """Built once per worker process (`bot.worker.runner`) and passed to every job.

    `graph` is None without a model (each advisor's away message answers then); the audio parts
    are None when voice is not possible.
    """

    settings: Settings
    pool: AsyncConnectionPool[Any]
    queue: procrastinate.App
    events: EventPublisher
    sender: TwilioSender
    graph: CompiledStateGraph[Any, Any, Any, Any] | None
    memory: AgentMemory
    flags: ConversationFlags
    knowledge: KnowledgeSearcher | None = None
    transcriber: Transcriber | None = None
    synthesizer: Synthesizer | None = None
    media_store: MediaStore | None = None
    folder: MemoryFolder | None = None  # folds old turns into the summary after each reply
    pricing: Pricing | None = None  # what messages and model calls cost (None: not counted)
    # Courtesy calls in flight (the typing indicator): held here so none is collected mid-call.
    courtesies: set[asyncio.Task[Any]] = field(default_factory=set)


@dataclass(frozen=True)
class Outcome:
    """What one job did, for logs and tests."""

    action: str
    sent: int = 0


def log_facts(advisor: Advisor, conversation: Conversation) -> dict[str, str]:
    """The routing fields of a worker's log line (the customer number is masked by the log filter)."""
    return {
        "advisor": str(advisor.id),
        "advisor_number": advisor.twilio_phone_number,
        "customer": conversation.phone_number,
        "conversation": str(conversation.conversation_id),
    }
