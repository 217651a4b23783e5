"""Voice replies: synthesised as OGG/Opus, published at a signed link Twilio fetches, text as fallback."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.agent.speech import is_ogg_opus, needs_text_too
from bot.settings import Settings
from bot.twilio.media_hosting import (
    LocalMediaStore,
    SupabaseMediaStore,
    delete_old_files,
    media_link_valid,
    sign_media,
)
from tests.conftest import Db, inbound_form, settle, sign, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, start_fake_supabase_storage
from tests.live import LiveServer as BaseLiveServer
from tests.live import free_port

VOICE_NOTE = (Path(__file__).parents[2] / "fixtures" / "audio" / "voice-note-es.ogg").read_bytes()
ADVISOR, CUSTOMER = "+14155238886", "+573001112233"


class LiveServer(BaseLiveServer):
    """Adds posting a signed customer message to the running server."""

    def post_message(self, body: str) -> int:
        url = self.base + "/webhooks/twilio"
        form = inbound_form(ADVISOR, CUSTOMER, body)
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}).status_code


@pytest.fixture
def live(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[Callable[..., LiveServer]]:
    fake_openai.speech_audio = VOICE_NOTE

    def start(**overrides: Any) -> LiveServer:
        port = free_port()
        settings = make_settings(
            public_base_url=f"http://127.0.0.1:{port}", media_dir=tmp_path / "media", **overrides
        )
        return LiveServer(settings, port)

    yield start


def _audio_on(db: Db) -> str:
    advisor = db.add_advisor("Ana", ADVISOR, settings='{"audio_default": true, "tts_voice": "nova"}')
    return advisor


def test_with_audio_on_the_reply_is_a_voice_note_twilio_can_fetch(
    live: Callable[..., LiveServer], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    _audio_on(db)
    with live() as server:
        assert server.post_message("Hola, ¿cómo va todo?") == 200
        wait_for(lambda: fake_twilio.media_fetches, what="Twilio fetching the voice note")
        settle(db)
    url, status, data = fake_twilio.media_fetches[0]
    assert status == 200 and is_ogg_opus(data) and data == VOICE_NOTE
    sent = fake_twilio.sent[0]
    assert (sent.media_url, sent.body) == (url, "")
    assert [m.media_url is None for m in fake_twilio.sent] == [False]  # no text: nothing to copy
    speech = fake_openai.speech_requests[0]
    assert (speech["voice"], speech["response_format"], speech["model"]) == (
        "nova",
        "opus",
        "gpt-4o-mini-tts",
    )
    assert speech["input"] == "Respuesta a: Hola, ¿cómo va todo?"
    row = db.query("SELECT author, media, status FROM messages WHERE direction = 'outbound'")[0]
    assert row["media"][0]["content_type"] == "audio/ogg" and row["status"] == "queued"


def test_a_reply_with_numbers_goes_as_voice_and_text(
    live: Callable[..., LiveServer], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = lambda messages: {"content": "El apartamento cuesta 250000000 pesos."}
    # The price is the business's (figures nobody gave are never sent, see tests/bot/agent).
    db.add_advisor(
        "Ana",
        ADVISOR,
        settings='{"audio_default": true, "tts_voice": "nova", "system_prompt": "Cuesta $250.000.000."}',
    )
    with live() as server:
        server.post_message("¿Precio?")
        wait_for(lambda: len(fake_twilio.sent) == 2, what="voice and text")
    assert fake_twilio.sent[0].media_url and fake_twilio.sent[0].body == ""
    assert fake_twilio.sent[1].body == "El apartamento cuesta 250000000 pesos."


def test_synthesis_failure_still_sends_the_text(
    live: Callable[..., LiveServer], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.speech_failures = [500, 500]
    _audio_on(db)
    with live() as server:
        server.post_message("Hola")
        wait_for(lambda: fake_twilio.sent, what="the text reply")
    assert [(m.body, m.media_url) for m in fake_twilio.sent] == [("Respuesta a: Hola", None)]


def test_with_audio_off_replies_stay_text(
    live: Callable[..., LiveServer], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR)
    with live() as server:
        server.post_message("Hola")
        wait_for(lambda: fake_twilio.sent)
    assert fake_openai.speech_requests == [] and fake_twilio.sent[0].media_url is None


def test_tampered_and_expired_media_links_are_404(
    live: Callable[..., LiveServer], db: Db, fake_twilio: FakeTwilio
) -> None:
    _audio_on(db)
    with live() as server:
        server.post_message("Hola")
        url = wait_for(lambda: fake_twilio.media_fetches, what="a media link")[0][0]
        assert httpx.get(url).status_code == 200
        name = url.split("/media/")[1].split("?")[0]
        tampered = url.replace(name, ("b" if name[0] == "a" else "a") + name[1:])
        bad_signature = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        expired = url.replace(
            "expires=", "expires=1"
        )  # a different (far later) expiry: signature no longer matches
        # A genuine signature on an expiry that has passed: the link is dead.
        from tests.conftest import AUTH_TOKEN

        past = int(time.time()) - 5
        key = Settings(_env_file=None, twilio_auth_token=AUTH_TOKEN).media_key(AUTH_TOKEN)  # type: ignore[call-arg]
        really_expired = f"{server.base}/media/{name}?expires={past}&signature={sign_media(name, past, key)}"
        fresh = int(time.time()) + 60
        still_valid = f"{server.base}/media/{name}?expires={fresh}&signature={sign_media(name, fresh, key)}"
        assert httpx.get(still_valid).status_code == 200  # the same key, so the 404s below are about expiry
        for link in (
            tampered,
            bad_signature,
            expired,
            really_expired,
            server.base + "/media/../pyproject.toml",
        ):
            assert httpx.get(link).status_code == 404, link
    key = b"k" * 32
    past = int(time.time()) - 1
    assert not media_link_valid("x.ogg", str(past), sign_media("x.ogg", past, key), key=key)
    future = int(time.time()) + 60
    assert media_link_valid("x.ogg", str(future), sign_media("x.ogg", future, key), key=key)


def test_old_media_files_are_cleaned_up(tmp_path: Path) -> None:
    old, new = tmp_path / "old.ogg", tmp_path / "new.ogg"
    old.write_bytes(VOICE_NOTE)
    new.write_bytes(VOICE_NOTE)
    two_days_ago = time.time() - 49 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert delete_old_files(tmp_path, older_than_seconds=48 * 3600) == 1
    assert not old.exists() and new.exists()
    assert delete_old_files(tmp_path / "missing", older_than_seconds=1) == 0


def test_local_store_needs_a_public_base_url(make_settings: Callable[..., Settings]) -> None:
    from bot.twilio.media_hosting import MediaStoreError

    with pytest.raises(MediaStoreError, match="PUBLIC_BASE_URL"):
        LocalMediaStore(make_settings(public_base_url=None), key=b"k")


def test_supabase_backend_uploads_to_the_bucket_and_signs(make_settings: Callable[..., Settings]) -> None:
    storage = start_fake_supabase_storage()
    try:
        settings = make_settings(
            media_backend="supabase",
            supabase_url=storage.url,
            supabase_service_role_key="service-role-key-for-tests-0123456789",
            supabase_media_bucket="voice-replies",
            media_link_ttl_seconds=3600,
        )
        url = asyncio.run(
            SupabaseMediaStore(settings).publish(VOICE_NOTE, content_type="audio/ogg", suffix="ogg")
        )
    finally:
        assert storage.server is not None
        storage.server.close()
    upload, signed = storage.uploads[0], storage.signs[0]
    assert (
        upload["bucket"] == "voice-replies"
        and upload["path"].startswith("voice/")
        and upload["path"].endswith(".ogg")
    )
    assert VOICE_NOTE in upload["body"] and b"audio/ogg" in upload["body"]
    assert signed["bucket"] == "voice-replies" and signed["path"] == upload["path"]
    assert signed["body"]["expiresIn"] in ("3600", 3600)
    assert "service-role-key-for-tests" in (upload["authorization"] or "")
    assert url.startswith(storage.url) and "token=signed-token" in url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claro, con gusto te ayudo.", False),
        ("Mira https://example.com/casa", True),
        ("Llama al 3001112233", True),
        ("Estamos en la Calle 26 con Carrera 13", True),
        ("Son dos habitaciones y un baño.", False),
    ],
)
def test_needs_text_too(text: str, expected: bool) -> None:
    assert needs_text_too(text) is expected
