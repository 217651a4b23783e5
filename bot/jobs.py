"""Owns the names of queued jobs and their per-conversation lock, shared by producers and workers."""

from __future__ import annotations

from uuid import UUID

ANSWER_TASK = "answer_conversation"
DELIVER_TASK = "deliver_conversation"
NOTICE_TASK = "send_advisor_notice"
RESUME_TASK = "resume_ai"
EVENT_TASK = "deliver_event"
CLEANUP_MEDIA_TASK = "cleanup_media"
PRUNE_MEMORY_TASK = "prune_ai_memory"


def conversation_lock(advisor_id: UUID | str, phone: str) -> str:
    """Return the queue lock of one advisor + customer: its jobs run one at a time, in order."""
    return f"conversation:{advisor_id}:{phone}"
