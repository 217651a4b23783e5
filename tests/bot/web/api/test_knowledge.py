"""Knowledge through the CLI and the API: replaced not duplicated, refused whole, isolated by advisor."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.cli import main
from tests.bot.web.api.conftest import ADMIN_TOKEN, advisor_bearer, bearer
from tests.conftest import Db
from tests.fixtures.pdf import pdf_with_text

ANA, BRUNO = "+14155238886", "+14155238887"
CATALOGUE = (
    "# Apartamentos\n\nEl apartamento de dos habitaciones cuesta 250 millones.\n\n"
    "# Parqueadero\n\nIncluido.\n"
)


def test_the_cli_adds_replaces_lists_and_removes_and_refuses_a_bad_file_whole(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    db.add_advisor("Ana", ANA)
    catalogue = tmp_path / "catalogo.md"
    catalogue.write_text(CATALOGUE)
    faq = tmp_path / "faq.txt"
    faq.write_text("¿Aceptan mascotas? Sí, en todos los proyectos.")
    assert main(["knowledge", "add", "--advisor", ANA, str(catalogue)]) == 0
    assert main(["knowledge", "add", "--advisor", "all", str(faq)]) == 0
    assert "added catalogo.md for Ana: 2 passages" in capsys.readouterr().out
    assert main(["knowledge", "add", "--advisor", ANA, str(catalogue)]) == 0
    assert "unchanged catalogo.md" in capsys.readouterr().out
    catalogue.write_text(CATALOGUE.replace("250", "260"))
    assert main(["knowledge", "add", "--advisor", ANA, str(catalogue)]) == 0
    assert "replaced catalogo.md" in capsys.readouterr().out
    bodies = [r["body"] for r in db.query("SELECT body FROM knowledge_passages ORDER BY id")]
    assert (
        len(bodies) == 3 and any("260 millones" in b for b in bodies) and not any("250" in b for b in bodies)
    )
    broken = tmp_path / "roto.md"
    broken.write_bytes(b"\xff\xfe\x00binario")
    new = tmp_path / "nuevo.md"
    new.write_text("Nuevo proyecto en Cali.")
    assert main(["knowledge", "add", "--advisor", ANA, str(new), str(broken)]) == 1
    assert "roto.md" in capsys.readouterr().err
    assert db.count("knowledge_documents") == 2  # nuevo.md was not stored either
    assert main(["knowledge", "list"]) == 0
    listed = capsys.readouterr().out
    assert "catalogo.md" in listed and "faq.txt" in listed and "all" in listed
    document = db.query("SELECT id FROM knowledge_documents WHERE source = 'faq.txt'")[0]["id"]
    assert main(["knowledge", "remove", str(document)]) == 0
    assert main(["knowledge", "remove", str(document)]) == 1
    assert db.count("knowledge_passages") == 2


def test_an_advisor_finds_their_own_and_shared_knowledge_never_anothers(
    admin_api: TestClient, db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    as_ana, as_bruno = (
        advisor_bearer(db, ANA, monkeypatch, capsys),
        advisor_bearer(db, BRUNO, monkeypatch, capsys),
    )
    admin = bearer(ADMIN_TOKEN)
    added = admin_api.post(
        "/api/knowledge", headers=as_ana, json={"source": "catalogo.md", "text": CATALOGUE}
    )
    assert added.status_code == 201 and added.json()["passages"] == 2
    again = admin_api.post(
        "/api/knowledge", headers=as_ana, json={"source": "catalogo.md", "text": CATALOGUE}
    )
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    shared = {"source": "faq.md", "text": "Horario de atención: lunes a sábado.", "shared": True}
    assert admin_api.post("/api/knowledge", headers=as_bruno, json=shared).status_code == 403
    assert admin_api.post("/api/knowledge", headers=admin, json=shared).status_code == 201
    found = admin_api.get(
        "/api/knowledge/search",
        headers=as_ana,
        params={"q": "cuanto cuesta un apartamento de 2 habitaciones"},
    )
    assert found.status_code == 200
    first = found.json()[0]
    assert first["source"] == "catalogo.md" and "250 millones" in first["body"] and first["score"] > 0
    # Bruno's agent never reads Ana's catalogue, but both read the shared FAQ.
    assert (
        admin_api.get("/api/knowledge/search", headers=as_bruno, params={"q": "apartamento precio"}).json()
        == []
    )
    hours = admin_api.get(
        "/api/knowledge/search", headers=as_bruno, params={"q": "horario de atencion"}
    ).json()
    assert [p["source"] for p in hours] == ["faq.md"] and hours[0]["shared"] is True
    assert [d["source"] for d in admin_api.get("/api/knowledge", headers=as_bruno).json()] == ["faq.md"]
    anas_doc = added.json()["id"]
    assert admin_api.delete(f"/api/knowledge/{anas_doc}", headers=as_bruno).status_code == 404
    assert admin_api.delete(f"/api/knowledge/{anas_doc}", headers=as_ana).status_code == 204
    assert admin_api.get("/api/knowledge/search", headers=as_ana, params={"q": "apartamento"}).json() == []


def test_a_pdf_is_added_through_the_api_as_base64_and_a_broken_one_is_refused_whole(
    admin_api: TestClient, db: Db
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    admin = bearer(ADMIN_TOKEN)
    brochure = pdf_with_text([["Torre Sol", "Apartamento 2B: 250 millones, con balcón"]])
    added = admin_api.post(
        "/api/knowledge",
        headers=admin,
        json={
            "source": "folleto.pdf",
            "content_base64": base64.b64encode(brochure).decode(),
            "advisor_id": ana,
        },
    )
    assert added.status_code == 201, added.text
    found = admin_api.get("/api/knowledge/search", headers=admin, params={"q": "balcon torre sol"}).json()
    assert found[0]["source"] == "folleto.pdf" and "250 millones" in found[0]["body"]
    broken = {
        "source": "roto.pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4 nada").decode(),
        "advisor_id": ana,
    }
    refused = admin_api.post("/api/knowledge", headers=admin, json=broken)
    assert refused.status_code == 422 and "not a readable PDF" in refused.json()["detail"]
    both = {"source": "x.md", "text": "hola", "content_base64": "aG9sYQ==", "advisor_id": ana}
    assert admin_api.post("/api/knowledge", headers=admin, json=both).status_code == 422
    assert [d["source"] for d in admin_api.get("/api/knowledge", headers=admin).json()] == ["folleto.pdf"]
