"""Owns the AI's running summary as kept with the conversation's records (sql/0026).

The summary lives in the AI's memory (the checkpoints) and, because it is something held about
the customer, here too: the customer's export includes it and erasure deletes it, and the web
side that serves both never reads LangGraph's checkpoints. The worker writes it each time a fold
moves it, after the turn's reply (bot.agent.folding).
"""

from __future__ import annotations

from uuid import UUID

from memory.records.models import Conn

_KEEP = """
INSERT INTO conversation_summaries (advisor_id, conversation_id, summary, through_message_id)
SELECT %(advisor_id)s, %(conversation_id)s, %(summary)s, %(through)s
 WHERE EXISTS (SELECT 1 FROM chat_history
                WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s)
ON CONFLICT (advisor_id, conversation_id) DO UPDATE
   SET summary = excluded.summary, through_message_id = excluded.through_message_id,
       updated_at = now()
 WHERE conversation_summaries.through_message_id IS DISTINCT FROM excluded.through_message_id
"""


async def keep_summary(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, summary: str, through: int
) -> None:
    """Keep the conversation's summary and the newest message it covers (nothing if erased)."""
    await conn.execute(
        _KEEP,
        {
            "advisor_id": advisor_id,
            "conversation_id": conversation_id,
            "summary": summary,
            "through": through,
        },
    )
