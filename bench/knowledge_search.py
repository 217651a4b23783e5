"""Knowledge search quality and speed: recall@3 and latency, full text alone against hybrid.

Run: `.venv/bin/python -m bench.knowledge_search` (BENCH_KNOWLEDGE_SIZES, default "100,100000").
The embedded PostgreSQL (it ships pgvector) holds one advisor's catalogue and FAQ
(bench/knowledge_corpus.py: 45 passages) plus look-alike passages of made-up projects up to each
size. The 69 questions are written as customers write (typos, no accents, slang); a question is
recalled when the passage that answers it is among the first 3 results. Latency is one search
as the agent's tool and the API run it (`KnowledgeSearcher.search`), over the questions,
measured in this process; in hybrid mode it includes embedding the question.

Embeddings come from the fake OpenAI-compatible server of the tests (tests/fakes.py), which is
deterministic: each word's character trigrams are hashed (crc32) into 256 dimensions, and the
vector is scaled to unit length. It matches misspellings and word pieces, not synonyms; a real
embeddings model matches both, and adds a network round trip (typically 100-300 ms) per
question that this local server does not.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.knowledge_corpus import PASSAGES, QUESTIONS, distractors
from bench.server import ROOT, database_url
from memory.knowledge import store
from memory.knowledge.embeddings import Embedder
from memory.knowledge.searcher import KnowledgeSearcher
from tests.fakes import start_fake_openai

DATA = DOC.parent / "data" / "knowledge_search.json"
TOP = 3
ADVISOR = UUID("00000000-0000-4000-8000-00000000b001")


def _prepare_database(folder: str) -> str:
    """An embedded PostgreSQL in `folder`, migrated, with one advisor; its connection string."""
    env = {**os.environ, "EMBEDDED_DATA_DIR": f"{folder}/pgdata", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    upgrade = [sys.executable, "-m", "bot.cli", "db", "upgrade"]
    subprocess.run(upgrade, cwd=folder, env=env, check=True, capture_output=True)
    return database_url(folder)


async def _fill(pool: AsyncConnectionPool[Any], size: int) -> dict[int, str]:
    """Store the catalogue and distractors up to `size` passages; return passage id → key."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO advisors (id, name, phone_number, twilio_phone_number, is_active) "
            "VALUES (%s, 'Ana', '+573009990001', '+14155238886', true) ON CONFLICT DO NOTHING",
            (ADVISOR,),
        )
        await conn.execute("DELETE FROM knowledge_documents")
        keys = list(PASSAGES)
        document, _ = await store.add_document(
            conn=conn,
            advisor_id=ADVISOR,
            source="catalogo-y-faq.md",
            passages=[PASSAGES[key] for key in keys],
            content=json.dumps(PASSAGES),
        )
        others = distractors(max(0, size - len(keys)))
        for start in range(0, len(others), 5_000):
            chunk = others[start : start + 5_000]
            await store.add_document(
                conn=conn,
                advisor_id=ADVISOR,
                source=f"otros-proyectos-{start // 5_000:03d}.md",
                passages=chunk,
                content="\n".join(chunk),
            )
        cursor = await conn.execute(
            "SELECT id, position FROM knowledge_passages WHERE document_id = %s", (document.id,)
        )
        rows = await cursor.fetchall()
    return {int(row["id"]): keys[int(row["position"])] for row in rows}


async def _measure(searcher: KnowledgeSearcher, key_of: dict[int, str]) -> dict[str, Any]:
    recalled = 0
    latencies = []
    misses = []
    for question, expected in QUESTIONS:
        started = time.perf_counter()
        found = await searcher.search(advisor_id=ADVISOR, query=question, limit=TOP)
        latencies.append((time.perf_counter() - started) * 1000)
        if expected in [key_of.get(passage.id) for passage in found]:
            recalled += 1
        else:
            misses.append(question)
    ordered = sorted(latencies)
    return {
        "recall_at_3": recalled / len(QUESTIONS),
        "recalled": recalled,
        "questions": len(QUESTIONS),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "misses": misses,
    }


async def _run_size(conninfo: str, embedder: Embedder, size: int) -> dict[str, Any]:
    async with AsyncConnectionPool(
        conninfo, kwargs={"row_factory": dict_row, "autocommit": True}, open=False, max_size=4
    ) as pool:
        key_of = await _fill(pool, size)
        hybrid = await KnowledgeSearcher.start(pool, embedder)
        if hybrid.mode != "hybrid":
            raise SystemExit("the embedded PostgreSQL has no vector extension: hybrid cannot be measured")
        started = time.perf_counter()
        while await hybrid.embed_missing(limit=4_096):
            pass
        embed_seconds = time.perf_counter() - started
        async with pool.connection() as conn:
            await conn.execute("ANALYZE knowledge_passages")
            await conn.execute("ANALYZE knowledge_embeddings")
        full_text = KnowledgeSearcher(pool)
        await _measure(full_text, key_of)  # warm-up: caches, plans
        result = {
            "passages": size,
            "embedding_seconds": round(embed_seconds, 1),
            "full_text": await _measure(full_text, key_of),
            "hybrid": await _measure(hybrid, key_of),
        }
        await hybrid.aclose()  # its client belongs to this size's event loop
    print(json.dumps({k: v for k, v in result.items()}, ensure_ascii=False)[:600], flush=True)
    return result


def run(sizes: list[int]) -> list[dict[str, Any]]:
    fake = start_fake_openai()
    try:
        embedder = Embedder(model="fake-trigram-256", base_url=fake.url, api_key="local")
        with tempfile.TemporaryDirectory(prefix="advisor-bot-knowledge-") as folder:
            conninfo = _prepare_database(folder)
            return [asyncio.run(_run_size(conninfo, embedder, size)) for size in sizes]
    finally:
        assert fake.server is not None
        fake.server.close()


def main() -> int:
    sizes = [int(size) for size in os.environ.get("BENCH_KNOWLEDGE_SIZES", "100,100000").split(",")]
    results = run(sizes)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    _write(results)
    return 0


def _write(results: list[dict[str, Any]]) -> None:
    rows = "\n".join(
        f"| {r['passages']:,} | {mode.replace('_', ' ')} | **{r[mode]['recall_at_3']:.0%}** "
        f"({r[mode]['recalled']}/{r[mode]['questions']}) | "
        f"{r[mode]['p50_ms']:.1f} | {r[mode]['p95_ms']:.1f} |"
        for r in results
        for mode in ("full_text", "hybrid")
    )
    embedding = ", ".join(f"{r['passages']:,} passages in {r['embedding_seconds']} s" for r in results)
    replace_section(
        "knowledge_search",
        f"""
## 3d. Knowledge search: recall@3 and latency, full text against hybrid

Command: `.venv/bin/python -m bench.knowledge_search`. {machine_line()}
Measured: {measured_at()}. Raw figures, with the questions each mode missed:
`docs/data/knowledge_search.json`. Corpus and questions: `bench/knowledge_corpus.py` (45
passages of a real-estate catalogue and FAQ, 69 questions as customers write them; the rest of
each collection is look-alike passages of made-up projects). Embeddings: the tests' fake
server, deterministic (each word's character trigrams hashed into 256 dimensions, unit length),
so hybrid here shows what matching word pieces adds; a real model also matches synonyms.

| passages | mode | recall@3 | p50 ms | p95 ms |
|---|---|---|---|---|
{rows}

Latency is one search as the agent's tool runs it (the hybrid one includes embedding the
question on the local fake server; a real embeddings API adds its network round trip).
Embedding the passages (the worker's background job, here in one process): {embedding}.
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
