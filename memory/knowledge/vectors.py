"""Owns the passages' embeddings in pgvector: whether they can exist here, storing and searching them.

The `vector` extension is in Supabase and in the embedded PostgreSQL, not in every PostgreSQL;
so the table is made when an embeddings model is configured and the extension is available,
at start, not by a migration that would fail elsewhere. One table for every model and dimension
(rows of another model are ignored, and re-embedded): search is exact, by cosine distance, over
the advisor's passages (see docs/benchmarks.md for what that costs at 100,000 passages).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection

from memory.lockdown import lock_down_tables

Conn = AsyncConnection[Any]

_TABLE = """
    CREATE TABLE IF NOT EXISTS knowledge_embeddings (
        passage_id bigint PRIMARY KEY REFERENCES knowledge_passages (id) ON DELETE CASCADE,
        advisor_id uuid REFERENCES advisors (id) ON DELETE CASCADE,
        model text NOT NULL,
        embedding vector NOT NULL
    )
"""


async def prepare_vectors(conn: Conn) -> str | None:
    """Make sure the extension and the table exist; None when ready, else why they cannot."""
    cursor = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    if await cursor.fetchone() is None:
        return "this PostgreSQL has no `vector` extension"
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            await conn.execute(_TABLE)
            await lock_down_tables(conn)  # made after the migrations' lock-down: lock it now
    except psycopg.errors.InsufficientPrivilege:
        return "not allowed to create the `vector` extension (CREATE EXTENSION vector as an owner)"
    return None


async def missing_embeddings(*, conn: Conn, model: str, limit: int) -> list[tuple[int, UUID | None, str]]:
    """Passages with no embedding of `model` yet: (id, advisor, text), oldest first."""
    cursor = await conn.execute(
        "SELECT p.id, p.advisor_id, p.body FROM knowledge_passages p "
        "LEFT JOIN knowledge_embeddings e ON e.passage_id = p.id AND e.model = %s "
        "WHERE e.passage_id IS NULL ORDER BY p.id LIMIT %s",
        (model, limit),
    )
    return [(int(row["id"]), row["advisor_id"], row["body"]) for row in await cursor.fetchall()]


async def store_embeddings(
    *, conn: Conn, model: str, rows: list[tuple[int, UUID | None, list[float]]]
) -> None:
    """Store (or replace) each passage's embedding; a passage deleted meanwhile is skipped."""
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO knowledge_embeddings (passage_id, advisor_id, model, embedding) "
            "SELECT id, %s, %s, %s::vector FROM knowledge_passages WHERE id = %s "
            "ON CONFLICT (passage_id) DO UPDATE SET model = excluded.model, embedding = excluded.embedding",
            [(advisor, model, literal(vector), passage) for passage, advisor, vector in rows],
        )


async def nearest(
    *, conn: Conn, advisor_id: UUID | None, model: str, vector: list[float], limit: int
) -> list[int]:
    """Ids of the advisor's (and the shared) passages closest to `vector`, nearest first."""
    cursor = await conn.execute(
        "SELECT passage_id FROM knowledge_embeddings "
        "WHERE model = %(model)s "
        "  AND (%(advisor)s::uuid IS NULL OR advisor_id = %(advisor)s OR advisor_id IS NULL) "
        "ORDER BY embedding <=> %(vector)s::vector, passage_id LIMIT %(limit)s",
        {"model": model, "advisor": advisor_id, "vector": literal(vector), "limit": limit},
        prepare=False,
    )
    return [int(row["passage_id"]) for row in await cursor.fetchall()]


def literal(vector: list[float]) -> str:
    """The vector in pgvector's text form, so no client-side adapter package is needed."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
