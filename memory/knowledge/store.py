"""Owns the SQL of knowledge: documents, their passages, and searching them for one advisor.

A document belongs to one advisor, or to all (`advisor_id` NULL). A search for an advisor sees
that advisor's passages and the shared ones, never another advisor's. Adding a document under a
source name it already has replaces its passages in the same transaction: no duplicates, and
no half-replaced document.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import BaseModel

from memory.knowledge.vectors import nearest

Conn = AsyncConnection[Any]
MAX_RESULTS = 20
_DOCUMENT_COLUMNS = "id, advisor_id, source, passages, created_at, updated_at"


class Document(BaseModel):
    """A stored document: its source name, whose it is, and how many passages it gave."""

    id: int
    advisor_id: UUID | None
    source: str
    passages: int
    created_at: datetime
    updated_at: datetime


class Passage(BaseModel):
    """A passage found by a search, with where it came from and how well it matched."""

    id: int
    document_id: int
    source: str
    body: str
    score: float
    shared: bool


async def add_document(
    *, conn: Conn, advisor_id: UUID | None, source: str, passages: list[str], content: str
) -> tuple[Document, str]:
    """Store a document's passages (replacing an earlier version); return it and what happened.

    What happened is `added`, `replaced` or `unchanged` (same content: nothing is rewritten).
    Call inside a transaction.
    """
    digest = hashlib.sha256(content.encode()).hexdigest()
    cursor = await conn.execute(
        "SELECT id, content_sha256 FROM knowledge_documents "
        "WHERE advisor_id IS NOT DISTINCT FROM %s AND source = %s FOR UPDATE",
        (advisor_id, source),
    )
    existing = await cursor.fetchone()
    if existing is not None and existing["content_sha256"] == digest:
        return await _document(conn, int(existing["id"])), "unchanged"
    if existing is None:
        cursor = await conn.execute(
            "INSERT INTO knowledge_documents (advisor_id, source, content_sha256, passages) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (advisor_id, source, digest, len(passages)),
        )
        row = await cursor.fetchone()
        assert row is not None
        document_id, outcome = int(row["id"]), "added"
    else:
        document_id, outcome = int(existing["id"]), "replaced"
        await conn.execute("DELETE FROM knowledge_passages WHERE document_id = %s", (document_id,))
        await conn.execute(
            "UPDATE knowledge_documents SET content_sha256 = %s, passages = %s, updated_at = now() "
            "WHERE id = %s",
            (digest, len(passages), document_id),
        )
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO knowledge_passages (document_id, advisor_id, position, body) "
            "VALUES (%s, %s, %s, %s)",
            [(document_id, advisor_id, position, body) for position, body in enumerate(passages)],
        )
    return await _document(conn, document_id), outcome


async def _document(conn: Conn, document_id: int) -> Document:
    cursor = await conn.execute(
        f"SELECT {_DOCUMENT_COLUMNS} FROM knowledge_documents WHERE id = %s",  # noqa: S608
        (document_id,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return Document.model_validate(row)


async def list_documents(*, conn: Conn, advisor_id: UUID | None) -> list[Document]:
    """Documents an advisor's agent reads (theirs and the shared ones); every one for None."""
    condition = "true" if advisor_id is None else "(advisor_id = %s OR advisor_id IS NULL)"
    cursor = await conn.execute(
        f"SELECT {_DOCUMENT_COLUMNS} FROM knowledge_documents "  # noqa: S608
        f"WHERE {condition} ORDER BY source, id",
        () if advisor_id is None else (advisor_id,),
    )
    return [Document.model_validate(row) for row in await cursor.fetchall()]


async def remove_document(*, conn: Conn, document_id: int, advisor_id: UUID | None) -> bool:
    """Delete one document and its passages; an advisor may delete only their own (None: any)."""
    cursor = await conn.execute(
        "DELETE FROM knowledge_documents WHERE id = %s AND (%s::uuid IS NULL OR advisor_id = %s)",
        (document_id, advisor_id, advisor_id),
    )
    return cursor.rowcount > 0


# The question becomes an OR of its words: Spanish stems without stop words, plus the plain words
# that hold a digit (codes, sizes, "2b"). Customers ask in sentences; a passage that shares more
# of the words ranks higher.
_QUERY = """
    WITH words AS (
        SELECT lexeme FROM unnest(to_tsvector('spanish'::regconfig, advisor_bot_fold(%(q)s)))
        UNION
        SELECT lexeme FROM unnest(to_tsvector('simple'::regconfig, advisor_bot_fold(%(q)s)))
         WHERE lexeme ~ '[0-9]'
    ), query AS (
        SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS q FROM words
    )
    SELECT p.id, p.document_id, d.source, p.body, ts_rank_cd(p.search, query.q) AS score,
           p.advisor_id IS NULL AS shared
      FROM knowledge_passages p JOIN knowledge_documents d ON d.id = p.document_id, query
     WHERE query.q IS NOT NULL AND p.search @@ query.q
       AND (%(advisor)s::uuid IS NULL OR p.advisor_id = %(advisor)s OR p.advisor_id IS NULL)
     ORDER BY score DESC, p.id
     LIMIT %(limit)s
"""


FUSION_DEPTH = 20  # candidates taken from each ranking before fusing
_RRF_K = 60  # reciprocal rank fusion's usual constant: rank 1 scores 1/61


async def search(
    *,
    conn: Conn,
    advisor_id: UUID | None,
    query: str,
    limit: int = 3,
    vector: list[float] | None = None,
    model: str | None = None,
) -> list[Passage]:
    """The passages that best answer `query` for one advisor (theirs and the shared ones; None: all).

    With the query's `vector` (embeddings `model`), full text and nearest embeddings are fused
    by rank (reciprocal rank fusion): each passage scores 1/(60 + rank) in each list it is in,
    so neither kind of score has to be made comparable to the other. Without, full text alone.
    """
    text = query.replace("\x00", "").strip()[:500]
    if not text:
        return []
    limit = max(1, min(limit, MAX_RESULTS))
    depth = limit if vector is None else max(limit, FUSION_DEPTH)
    cursor = await conn.execute(_QUERY, {"q": text, "advisor": advisor_id, "limit": depth}, prepare=False)
    by_text = [Passage.model_validate(row) for row in await cursor.fetchall()]
    if vector is None or model is None:
        return by_text
    near = await nearest(conn=conn, advisor_id=advisor_id, model=model, vector=vector, limit=depth)
    fused: dict[int, float] = {}
    for ranking in ([p.id for p in by_text], near):
        for rank, passage_id in enumerate(ranking, start=1):
            fused[passage_id] = fused.get(passage_id, 0.0) + 1.0 / (_RRF_K + rank)
    best = sorted(fused, key=lambda passage_id: (-fused[passage_id], passage_id))[:limit]
    known = {p.id: p for p in by_text}
    missing = [passage_id for passage_id in best if passage_id not in known]
    if missing:
        cursor = await conn.execute(_BY_ID, {"ids": missing}, prepare=False)
        known |= {row["id"]: Passage.model_validate(row) for row in await cursor.fetchall()}
    return [
        known[passage_id].model_copy(update={"score": round(fused[passage_id], 6)})
        for passage_id in best
        if passage_id in known
    ]


_BY_ID = """
    SELECT p.id, p.document_id, d.source, p.body, 0.0 AS score, p.advisor_id IS NULL AS shared
      FROM knowledge_passages p JOIN knowledge_documents d ON d.id = p.document_id
     WHERE p.id = ANY(%(ids)s)
"""
