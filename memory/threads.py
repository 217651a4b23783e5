"""Owns the one rule that isolates AI memory: the LangGraph thread id of a conversation.

Here, not in `memory.ai`, because erasing a customer deletes their checkpoints by this id from
the records side too, which must not load the AI's libraries.
"""

from __future__ import annotations

from uuid import UUID


def thread_id_for(advisor_id: UUID | str, phone: str) -> str:
    """Return the checkpoint thread id of one advisor + customer conversation.

    The format matches the existing system (`f"{advisor_id}_{phone}"`), so memories carry over.
    """
    advisor = str(advisor_id).strip()
    customer = phone.strip()
    if not advisor or not customer:
        raise ValueError("a thread needs both an advisor id and a customer phone")
    return f"{advisor}_{customer}"


def thread_id_sql(advisor_column: str = "advisor_id", phone_column: str = "phone_number") -> str:
    """`thread_id_for` as a SQL expression over a row's columns, for a read that finds the thread itself."""
    return f"({advisor_column}::text || '_' || btrim({phone_column}))"
