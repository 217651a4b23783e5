"""Issue 23, finding 2: a hostile upload is read in a limited process and never stalls the webhooks."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

import httpx

from bot.settings import Settings
from tests.conftest import Db, inbound_form, sign
from tests.fixtures.pdf import pdf_bomb, pdf_with_text
from tests.live import LiveServer, free_port

ADMIN = "admin-token-for-knowledge-limits"
ANA = "+14155238886"


def _upload(base: str, source: str, data: bytes, advisor_id: str) -> httpx.Response:
    """A document posted to the API as the admin, as its bytes."""
    document = {"source": source, "content_base64": base64.b64encode(data).decode(), "advisor_id": advisor_id}
    return httpx.post(
        f"{base}/api/knowledge", json=document, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
    )


def test_webhooks_stay_fast_while_a_pdf_bomb_is_refused_within_the_limits(
    db: Db, make_settings: Callable[..., Settings]
) -> None:
    ana = db.add_advisor("Ana", ANA)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(public_base_url=base, admin_token=ADMIN, document_read_seconds=2)
    bomb = pdf_bomb(8 * 1024 * 1024)  # about 10 s of pypdf on this kind of machine
    assert len(bomb) < 64 * 1024
    upload: dict[str, httpx.Response] = {}
    with LiveServer(settings, port):

        def send_bomb() -> None:
            upload["answer"] = _upload(base, "bomba.pdf", bomb, ana)

        uploading = threading.Thread(target=send_bomb)
        started = time.monotonic()
        uploading.start()
        latencies = []
        n = 0
        while uploading.is_alive() and time.monotonic() - started < 30:
            n += 1
            url = f"{base}/webhooks/twilio"
            form = inbound_form(ANA, f"+5730011{n:05d}", "hola")
            begun = time.monotonic()
            answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30)
            latencies.append(time.monotonic() - begun)
            assert answer.status_code == 200
            time.sleep(0.1)
        uploading.join(timeout=30)
        took = time.monotonic() - started
        refused = upload["answer"]
        assert refused.status_code == 422 and "took longer than 2 s" in refused.json()["detail"]
        assert took < 2 + 2 + 3  # the CPU limit, the wall-clock margin, the reader's start
        assert len(latencies) >= 5 and max(latencies) < 1.0, latencies
        assert db.count("knowledge_documents") == 0

        brochure = pdf_with_text([["Apartamento de dos habitaciones: 250 millones."]])
        stored = _upload(base, "folleto.pdf", brochure, ana)
        assert stored.status_code == 201 and stored.json()["passages"] == 1
        assert "250 millones" in db.query("SELECT body FROM knowledge_passages")[0]["body"]
