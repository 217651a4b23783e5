"""Hybrid knowledge search: embeddings from a local OpenAI-compatible server, fused with full text.

The fake server embeds deterministically by hashed character trigrams (tests.fakes), so a
misspelt question lands near the passage it means, which full text alone cannot find.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient

from bot.app import create_app
from bot.infra.knowledge import embed_passages, embedder_for
from bot.infra.pricing import Pricing
from bot.settings import Settings
from memory.knowledge.searcher import KnowledgeSearcher
from tests.bot.web.api.conftest import ADMIN_TOKEN, bearer
from tests.conftest import Db
from tests.fakes import FakeOpenAI

ANA, BRUNO = "+14155238886", "+14155238887"
CATALOGUE = (
    "# Parqueadero\n\nCada apartamento tiene parqueadero cubierto incluido en el precio.\n\n"
    "# Mascotas\n\nEl edificio acepta perros y gatos pequeños.\n"
)
MISSPELT = "el parqeadero es cuvierto?"
ADMIN = bearer(ADMIN_TOKEN)


def _has_pgvector(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None
        )


def _embed_pending(settings: Settings) -> int:
    """What the worker's periodic job does, once, now: each owner's calls stored as its cost."""

    async def run() -> int:
        async with AsyncConnectionPool(
            settings.database_url.get_secret_value(),  # type: ignore[union-attr]
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=False,
        ) as pool:
            searcher = await KnowledgeSearcher.start(pool, embedder_for(settings))
            try:
                return await embed_passages(searcher, pool, Pricing.from_settings(settings))
            finally:
                await searcher.aclose()

    return asyncio.run(run())


def test_without_an_embeddings_model_search_is_full_text_and_the_log_says_so(
    make_settings: Callable[..., Settings], db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    ana = db.add_advisor("Ana", ANA)
    caplog.set_level(logging.INFO, logger="memory.knowledge.searcher")
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN))) as api:
        document = {"source": "catalogo.md", "text": CATALOGUE, "advisor_id": ana}
        assert api.post("/api/knowledge", headers=ADMIN, json=document).status_code == 201
        found = api.get("/api/knowledge/search", headers=ADMIN, params={"q": MISSPELT})
    assert found.headers["X-Knowledge-Search"] == "full_text"
    assert found.json() == []  # "parqeadero" and "cuvierto" are no Spanish word full text knows
    assert "knowledge search: full text (no OPENAI_EMBEDDING_MODEL)" in caplog.text


def test_hybrid_search_finds_what_customers_misspell_and_never_crosses_advisors(
    make_settings: Callable[..., Settings], db: Db, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(admin_token=ADMIN_TOKEN, openai_embedding_model="fake-embedding")
    if not _has_pgvector(db.url):
        pytest.skip("this PostgreSQL has no vector extension (the embedded one has)")
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    caplog.set_level(logging.INFO, logger="memory.knowledge.searcher")
    with TestClient(create_app(settings)) as api:
        assert "knowledge search: hybrid (full text + pgvector, model fake-embedding)" in caplog.text
        for owner, source in ((ana, "catalogo-ana.md"), (bruno, "catalogo-bruno.md")):
            document = {
                "source": source,
                "text": CATALOGUE.replace("Cada", f"({source}) Cada"),
                "advisor_id": owner,
            }
            assert api.post("/api/knowledge", headers=ADMIN, json=document).status_code == 201
        # What the worker's job does every minute (it may have run already: count what is stored).
        _embed_pending(settings)
        assert db.query("SELECT count(*) AS n FROM knowledge_embeddings")[0]["n"] == 4
        assert _embed_pending(settings) == 0  # nothing twice
        found = api.get("/api/knowledge/search", headers=ADMIN, params={"q": MISSPELT, "advisor_id": ana})
        assert found.headers["X-Knowledge-Search"] == "hybrid"
        first = found.json()[0]
        assert first["source"] == "catalogo-ana.md" and "parqueadero cubierto" in first["body"]
        # Bruno's passages are as near to the question, but never in Ana's results.
        sources = {p["source"] for p in found.json()}
        assert sources == {"catalogo-ana.md"}
        # The embeddings server down: that search is full text alone, and still answers.
        fake_openai.embedding_failures = [500]
        fallback = api.get(
            "/api/knowledge/search", headers=ADMIN, params={"q": "parqueadero cubierto", "advisor_id": ana}
        )
        assert fallback.status_code == 200 and fallback.json()[0]["source"] == "catalogo-ana.md"
        assert "query not embedded; full text only for this search" in caplog.text
        # Replacing a document drops its old passages' embeddings with them.
        document = {"source": "catalogo-ana.md", "text": "# Precio\n\nDesde 250 millones.", "advisor_id": ana}
        assert api.post("/api/knowledge", headers=ADMIN, json=document).status_code == 200
    _embed_pending(settings)  # Bruno's two, and the new passage: Ana's old two went with their passages
    assert db.query("SELECT count(*) AS n FROM knowledge_embeddings")[0]["n"] == 3


def test_embedding_costs_go_to_the_passages_owner_the_shared_ones_to_no_advisor(
    make_settings: Callable[..., Settings], db: Db, fake_openai: FakeOpenAI
) -> None:
    """Embedding the knowledge and each search's query are model calls: priced and kept, per owner."""
    prices = {"fake-embedding": {"prompt": 20.0}}  # USD per million tokens
    settings = make_settings(
        admin_token=ADMIN_TOKEN, openai_embedding_model="fake-embedding", model_prices=json.dumps(prices)
    )
    if not _has_pgvector(db.url):
        pytest.skip("this PostgreSQL has no vector extension (the embedded one has)")
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    with TestClient(create_app(settings, run_worker=False)) as api:
        for owner, source in ((ana, "catalogo-ana.md"), (None, "compartido.md")):
            document = {
                "source": source,
                "text": CATALOGUE,
                **({"advisor_id": owner} if owner else {"shared": True}),
            }
            assert api.post("/api/knowledge", headers=ADMIN, json=document).status_code == 201
        assert _embed_pending(settings) == 4
        spent = db.query(
            "SELECT advisor_id::text AS advisor, purpose, model, prompt_tokens, cost_usd, conversation_id "
            "FROM model_usage ORDER BY advisor_id NULLS LAST"
        )
        bodies = db.query(
            "SELECT advisor_id::text AS advisor, string_agg(body, '' ORDER BY id) AS text, "
            "array_agg(length(body)) AS lengths FROM knowledge_passages GROUP BY advisor_id"
        )
        # The fake server reports no usage: estimated as the client does, four characters a token.
        tokens = {row["advisor"]: sum(row["lengths"]) // 4 + 1 for row in bodies}
        assert spent == [
            {
                "advisor": owner,
                "purpose": "embedding",
                "model": "fake-embedding",
                "prompt_tokens": tokens[owner],
                "cost_usd": (Decimal(tokens[owner]) * 20 / 1_000_000).quantize(Decimal("0.000001")),
                "conversation_id": None,
            }
            for owner in (ana, None)
        ]
        # A search embeds its question: the searched advisor's cost.
        question = "¿el parqueadero es cubierto?"
        found = api.get("/api/knowledge/search", headers=ADMIN, params={"q": question, "advisor_id": ana})
        assert found.status_code == 200 and found.json()
        searched = db.query(
            "SELECT prompt_tokens FROM model_usage WHERE advisor_id = %s ORDER BY id DESC LIMIT 1", (ana,)
        )
        assert searched == [{"prompt_tokens": len(question) // 4 + 1}]
        stats = api.get(f"/api/advisors/{ana}/stats?days=1", headers=ADMIN).json()["days"][0]
        expected = (Decimal(tokens[ana] + len(question) // 4 + 1) * 20 / 1_000_000).quantize(Decimal("1e-6"))
        assert stats["model_cost_usd"] == pytest.approx(float(expected), abs=2e-6)
        brunos = api.get(f"/api/advisors/{bruno}/stats?days=1", headers=ADMIN).json()["days"][0]
        assert brunos["model_cost_usd"] == 0  # neither Ana's passages nor the shared ones are his
        metrics = api.get("/metrics").text
        assert 'advisor_bot_cost_usd_total{advisor="shared",kind="model_embedding"}' in metrics
