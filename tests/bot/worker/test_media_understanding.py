"""Voice notes in: fetched from Twilio (redirect, credentials only to Twilio), transcribed, understood."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from bot.twilio.media_fetch import MediaError, fetch_media
from tests.conftest import (
    ACCOUNT_SID,
    VOICE_NOTE,
    Db,
    inbound_form,
    settle,
    signed_post,
    wait_for,
)
from tests.fakes import FakeMediaHost, FakeOpenAI, FakeTwilio

ADVISOR, CUSTOMER = "+14155238886", "+573001112233"


@pytest.fixture
def voice_settings(
    make_settings: Callable[..., Settings], twilio_media: dict[str, str]
) -> Callable[..., Settings]:
    def build(**overrides: object) -> Settings:
        return make_settings(**{**twilio_media, **overrides})

    return build


def _voice_form(fake_twilio: FakeTwilio, media_id: str = "ME1") -> dict[str, str]:
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'2' * 32}/Media/{media_id}"
    return inbound_form(
        ADVISOR, CUSTOMER, "", NumMedia="1", MessageType="audio", MediaContentType0="audio/ogg", MediaUrl0=url
    )


def _voice_round(client: TestClient, db: Db, fake_twilio: FakeTwilio, form: dict[str, str]) -> str:
    assert signed_post(client, form).status_code == 200
    reply = wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply to the voice note")
    settle(db)
    return str(reply[0])


def test_a_voice_note_is_fetched_transcribed_and_answered(
    voice_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    media_host: FakeMediaHost,
) -> None:
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings())) as client:
        reply = _voice_round(client, db, fake_twilio, _voice_form(fake_twilio))
    assert reply == (
        "Respuesta a: [Nota de voz del cliente, transcrita]: "
        "Hola, quisiera saber el precio del apartamento de dos habitaciones"
    )
    # The real OGG/Opus file reached the transcription endpoint unchanged.
    assert len(fake_openai.audio_uploads) == 1 and VOICE_NOTE in fake_openai.audio_uploads[0]
    assert b'name="model"' in fake_openai.audio_uploads[0] and b"whisper-1" in fake_openai.audio_uploads[0]
    # Credentials went to Twilio, and not to the CDN it redirected to.
    assert fake_twilio.media_requests[0]["authorization"].startswith("Basic ")  # type: ignore[union-attr]
    assert [r["authorization"] for r in media_host.requests] == [None]
    row = db.query("SELECT transcript, media_error FROM messages WHERE direction = 'inbound'")[0]
    assert row == {"transcript": fake_openai.transcript, "media_error": None}


def test_a_transcription_failure_still_gets_a_helpful_text_reply(
    voice_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcription_failures = [500, 500]
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings())) as client:
        reply = _voice_round(client, db, fake_twilio, _voice_form(fake_twilio))
    assert "nota de voz que no se pudo entender" in reply
    assert len(fake_openai.audio_uploads) == 2  # one retry inside the client, then it gives up
    error = db.query("SELECT media_error FROM messages WHERE direction = 'inbound'")[0]["media_error"]
    assert error.startswith("transcription_failed")


def test_an_oversized_download_is_refused_and_recorded(
    voice_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings(max_media_bytes=1024))) as client:
        reply = _voice_round(client, db, fake_twilio, _voice_form(fake_twilio))
    assert "no se pudo entender" in reply
    assert fake_openai.audio_uploads == []
    error = db.query("SELECT media_error FROM messages WHERE direction = 'inbound'")[0]["media_error"]
    assert error.startswith("too_large")


def test_a_redirect_to_a_host_not_allowed_is_not_followed(
    voice_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, media_host: FakeMediaHost
) -> None:
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings(media_cdn_hosts="*.twiliocdn.com"))) as client:
        reply = _voice_round(client, db, fake_twilio, _voice_form(fake_twilio))
    assert "no se pudo entender" in reply
    assert media_host.requests == []
    error = db.query("SELECT media_error FROM messages WHERE direction = 'inbound'")[0]["media_error"]
    assert error.startswith("host_not_allowed")


@pytest.mark.parametrize(
    ("url", "hosts", "reason"),
    [
        ("https://evil.example.com/x", "api.twilio.com", "host_not_allowed"),
        ("http://api.twilio.com/x", "api.twilio.com", "host_not_allowed"),  # not https
        ("https://localhost/x", "localhost", "private_address"),  # allowed by name, but private
        ("https://10.0.0.5/x", "10.0.0.5", "private_address"),
    ],
)
def test_media_policy_refuses_before_any_connection(
    make_settings: Callable[..., Settings], url: str, hosts: str, reason: str
) -> None:
    settings = make_settings(twilio_media_hosts=hosts, media_cdn_hosts="")
    with pytest.raises(MediaError) as refused:
        asyncio.run(fetch_media(url, settings=settings))
    assert refused.value.reason == reason


JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 4 + b"\xff\xd9"


def _image_form(fake_twilio: FakeTwilio, caption: str) -> dict[str, str]:
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'3' * 32}/Media/IMG1"
    return inbound_form(
        ADVISOR,
        CUSTOMER,
        caption,
        NumMedia="1",
        MessageType="image",
        MediaContentType0="image/jpeg",
        MediaUrl0=url,
    )


def test_a_picture_reaches_a_vision_model_as_image_input(
    voice_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    media_host: FakeMediaHost,
) -> None:
    import base64

    media_host.files["IMG1"] = (JPEG, "image/jpeg")
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings(openai_image_input="on"))) as client:
        _voice_round(client, db, fake_twilio, _image_form(fake_twilio, "¿Lo tienen en azul?"))
        content = fake_openai.requests[-1]["messages"][-1]["content"]
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "¿Y en rojo?")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the next reply")
        settle(db)
    assert isinstance(content, list)
    assert content[0] == {"type": "text", "text": "¿Lo tienen en azul?\n[El cliente envió 1 imagen(es)]"}
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,") and base64.b64decode(url.split(",", 1)[1]) == JPEG
    # Answered once, the picture is not sent again, nor kept in the AI's memory: its text stays.
    later = fake_openai.requests[-1]["messages"]
    assert later[1] == {"role": "user", "content": "¿Lo tienen en azul?\n[El cliente envió 1 imagen(es)]"}
    snippet = url[200:260].encode()
    holding = db.query(
        "SELECT (SELECT count(*) FROM checkpoint_blobs WHERE position(%s::bytea IN blob) > 0)"
        " + (SELECT count(*) FROM checkpoint_writes WHERE position(%s::bytea IN blob) > 0) AS n",
        (snippet, snippet),
    )[0]["n"]
    assert db.count("checkpoint_blobs") > 0 and holding == 0  # the picture never reached a checkpoint


def test_without_image_input_the_agent_is_told_a_picture_arrived(
    voice_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    media_host: FakeMediaHost,
) -> None:
    media_host.files["IMG1"] = (JPEG, "image/jpeg")
    db.add_advisor("Ana", ADVISOR)
    with TestClient(create_app(voice_settings(openai_image_input="off"))) as client:
        reply = _voice_round(client, db, fake_twilio, _image_form(fake_twilio, "¿Lo tienen en azul?"))
    assert reply == "Respuesta a: ¿Lo tienen en azul?\n[El cliente envió 1 imagen(es)]"
    assert media_host.requests == []


@pytest.mark.parametrize(
    ("url", "content_type"),
    [("https://api.twilio.com:99999/x", "audio/ogg"), ("https://[::1/x", "image/jpeg")],
)
def test_a_media_url_that_cannot_even_be_parsed_is_a_media_error_and_blocks_nothing(
    voice_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    url: str,
    content_type: str,
) -> None:
    """The probe's wedge: the job raised while parsing the URL and the conversation stopped for good."""
    db.add_advisor("Ana", ADVISOR)
    form = inbound_form(ADVISOR, CUSTOMER, "", NumMedia="1", MediaContentType0=content_type, MediaUrl0=url)
    with TestClient(create_app(voice_settings(openai_image_input="on"))) as client:
        assert signed_post(client, form).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply to the broken media")
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "¿Me oyes?")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the reply to the next message")
        settle(db)
    first = db.query("SELECT status, media_error FROM messages WHERE direction = 'inbound' ORDER BY id")[0]
    assert first["status"] == "answered"
    assert first["media_error"].startswith("bad_url: media URL is malformed")
    assert fake_twilio.bodies_to(CUSTOMER)[1] == "Respuesta a: ¿Me oyes?"


def test_a_message_that_keeps_failing_is_given_up_after_the_bound_and_the_next_is_answered(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Whatever the failure (here: a history of crashed attempts), the bound holds and nothing waits."""
    db.add_advisor("Ana", ADVISOR)
    settings = make_settings(job_max_attempts=3, worker_heartbeat_seconds=0.2, stalled_worker_seconds=1)
    with TestClient(create_app(settings)) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "hola")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the first reply")
        settle(db)
        # A message three workers died on (the job library has no job left for it).
        conversation = db.query("SELECT advisor_id, conversation_id FROM chat_history")[0]
        db.query(
            "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status, "
            "twilio_sid, attempts, error_message, created_at) VALUES (%s, %s, 'inbound', 'customer', "
            "'veneno', 'received', 'SMpoison', 3, 'RuntimeError: boom', now() - interval '1 minute')",
            (conversation["advisor_id"], conversation["conversation_id"]),
        )
        wait_for(
            lambda: (
                db.query("SELECT status FROM messages WHERE twilio_sid = 'SMpoison'")[0]["status"] == "failed"
            ),
            timeout=30,
            what="the recovery sweep to give it up",
        )
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "¿sigues?")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the next reply")
        settle(db)
    poison = db.query("SELECT error_message, attempts FROM messages WHERE twilio_sid = 'SMpoison'")[0]
    assert poison == {"error_message": "gave up after 3 attempts: RuntimeError: boom", "attempts": 3}
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: hola", "Respuesta a: ¿sigues?"]
    jobs = db.query(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing', 'failed')"
    )[0]["n"]
    assert jobs == 0


def test_a_picture_the_model_cannot_read_is_told_of_not_sent(
    voice_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    media_host: FakeMediaHost,
) -> None:
    """A customer's SVG sent as image input made the model refuse the turn (the away message)."""
    media_host.files["IMG1"] = (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")
    db.add_advisor("Ana", ADVISOR)
    form = _image_form(fake_twilio, "¿Qué opinan?")
    form["MediaContentType0"] = "image/svg+xml"
    with TestClient(create_app(voice_settings(openai_image_input="on"))) as client:
        _voice_round(client, db, fake_twilio, form)
    content = fake_openai.requests[-1]["messages"][-1]["content"]
    assert content == "¿Qué opinan?\n[El cliente envió 1 imagen(es)]"  # told of it, nothing attached
    assert db.query("SELECT author FROM messages WHERE direction = 'outbound'")[0]["author"] == "ai"
