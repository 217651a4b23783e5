"""The Twilio webhook: authentication, routing, dedupe and bad input, against a real database."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from bot.web.twilio_requests import EMPTY_TWIML
from tests.conftest import Db, inbound_form, settle, sign, signed_post, wait_for
from tests.fakes import FakeTwilio

ADVISOR_NUMBER = "+14155238886"
CUSTOMER = "+573001112233"


def test_signed_message_is_stored_acknowledged_and_answered(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    response = signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola"))

    assert response.status_code == 200
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    sent = fake_twilio.sent[0]
    assert sent.from_ == f"whatsapp:{ADVISOR_NUMBER}"
    assert sent.account_sid.startswith("AC")
    inbound = db.query("SELECT * FROM messages WHERE direction = 'inbound'")
    assert [(m["advisor_id"].hex, m["body"], m["author"]) for m in inbound] == [
        (advisor_id.replace("-", ""), "Hola", "customer")
    ]
    outbound = wait_for(lambda: [m for m in db.outbound() if m["status"] == "queued"])
    assert outbound[0]["twilio_sid"] == sent.sid
    assert outbound[0]["author"] == "ai"


def test_bad_signature_is_refused_and_nothing_stored(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    form = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")
    response = client.post(
        "/webhooks/twilio", data=form, headers={"X-Twilio-Signature": sign("http://testserver/x", form)}
    )
    assert response.status_code == 403
    forged = signed_post(client, form, token="not-the-token-000000")
    assert forged.status_code == 403
    assert db.count("messages") == 0
    assert db.count("chat_history") == 0


def test_while_the_auth_token_rotates_the_previous_one_still_signs_webhooks(
    make_settings: Callable[..., Settings], db: Db
) -> None:
    """Twilio signs with its primary token until the new one is promoted: no webhook is lost."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    old = "old-auth-token-0123456789"
    with TestClient(create_app(make_settings())) as client:
        assert (
            signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "antes"), token=old).status_code == 403
        )
    with TestClient(create_app(make_settings(twilio_auth_token_previous=old))) as client:
        assert (
            signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "durante"), token=old).status_code
            == 200
        )
        assert signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "nuevo")).status_code == 200
        forged = signed_post(
            client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "falso"), token="not-the-token-000000"
        )
        assert forged.status_code == 403
        settle(db)
    bodies = [
        row["body"] for row in db.query("SELECT body FROM messages WHERE direction = 'inbound' ORDER BY id")
    ]
    assert bodies == ["durante", "nuevo"]


def test_the_benchmarks_bare_endpoint_is_not_part_of_the_product(client: TestClient) -> None:
    """Found by the audit: `/bench/bare` was served by the product; it lives in bench/ now."""
    assert client.post("/bench/bare").status_code == 404


def test_missing_signature_is_refused(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    response = client.post("/webhooks/twilio", data=inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola"))
    assert response.status_code == 403
    assert db.count("messages") == 0


def test_tampered_field_breaks_the_signature(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    form = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")
    signature = sign("http://testserver/webhooks/twilio", form)
    form["Body"] = "Hola, pero otro texto"
    response = client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert db.count("messages") == 0


def test_sha256_signature_with_settings_header_is_accepted(client: TestClient, db: Db) -> None:
    from twilio.request_validator import HMAC_SHA256, RequestValidator

    from tests.conftest import AUTH_TOKEN

    db.add_advisor("Ana", ADVISOR_NUMBER)
    form = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")
    url = "http://testserver/webhooks/twilio"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form, algorithm=HMAC_SHA256)
    settings_header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    ok = client.post(
        "/webhooks/twilio",
        data=form,
        headers={"X-Twilio-Signature": signature, "X-Twilio-Webhooks-Signature-Settings": settings_header},
    )
    assert ok.status_code == 200
    # The same SHA-256 signature without the header is checked as SHA-1, and fails.
    replay = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")
    bad = client.post(
        "/webhooks/twilio",
        data=replay,
        headers={
            "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(
                url, replay, algorithm=HMAC_SHA256
            )
        },
    )
    assert bad.status_code == 403
    # Only the first was stored (the worker may have answered it by now: inbound rows are counted).
    assert db.query("SELECT count(*) AS n FROM messages WHERE direction = 'inbound'") == [{"n": 1}]


def test_public_base_url_is_what_gets_validated(make_settings: Callable[..., Settings], db: Db) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    settings = make_settings(public_base_url="https://bot.example.com/")
    form = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")
    with TestClient(create_app(settings)) as client:
        public = sign("https://bot.example.com/webhooks/twilio?src=wa", form)
        ok = client.post("/webhooks/twilio?src=wa", data=form, headers={"X-Twilio-Signature": public})
        internal = sign("http://testserver/webhooks/twilio?src=wa", form)
        form2 = {**form, "MessageSid": "SM" + "f" * 32}
        internal = sign("http://testserver/webhooks/twilio?src=wa", form2)
        refused = client.post("/webhooks/twilio?src=wa", data=form2, headers={"X-Twilio-Signature": internal})
    assert ok.status_code == 200
    assert refused.status_code == 403


def test_repeated_keys_are_all_signed(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    pairs = list(inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola").items()) + [
        ("Extra", "one"),
        ("Extra", "two"),
    ]
    signature = sign("http://testserver/webhooks/twilio", pairs)
    ok = client.post("/webhooks/twilio", content=_urlencode(pairs), headers=_form_headers(signature))
    assert ok.status_code == 200
    stored = db.query("SELECT payload FROM messages")[0]["payload"]
    assert stored["Extra"] == ["one", "two"]
    # Dropping one of the repeated values must break the signature.
    pairs2 = [(k, v) for k, v in pairs if (k, v) != ("Extra", "two")]
    pairs2 = [(k, "SM" + "e" * 32) if k == "MessageSid" else (k, v) for k, v in pairs2]
    bad = client.post("/webhooks/twilio", content=_urlencode(pairs2), headers=_form_headers(signature))
    assert bad.status_code == 403


def test_unknown_and_inactive_numbers_get_empty_twiml_and_nothing_stored(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Inactiva", "+14155230000", active=False)
    unknown = signed_post(client, inbound_form("+14155239999", CUSTOMER, "Hola"))
    inactive = signed_post(client, inbound_form("+14155230000", CUSTOMER, "Hola"))
    assert (unknown.status_code, unknown.text) == (200, EMPTY_TWIML)
    assert (inactive.status_code, inactive.text) == (200, EMPTY_TWIML)
    assert db.count("messages") == 0
    assert db.count("chat_history") == 0
    assert db.count("procrastinate_jobs WHERE task_name = 'answer_conversation'") == 0
    assert fake_twilio.attempts == 0


def test_retry_of_the_same_message_sid_gets_one_reply(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    form = inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola", sid="SM" + "a" * 32)
    first = signed_post(client, form)
    second = signed_post(client, form)
    third = signed_post(client, form)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert second.text == EMPTY_TWIML
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
    settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    assert db.count("messages WHERE direction = 'inbound'") == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status", "text"),
    [
        (b'{"From": "x"}', "application/json", 415, "expected application/x-www-form-urlencoded"),
        (b"Body=%ff%fe&From=x", "application/x-www-form-urlencoded", 400, "not valid UTF-8"),
        (b"x" * 70_000, "application/x-www-form-urlencoded", 413, "exceeds"),
        (b"&".join(b"f%d=1" % i for i in range(300)), "application/x-www-form-urlencoded", 413, "fields"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(
    client: TestClient, db: Db, content: bytes, content_type: str, status: int, text: str
) -> None:
    response = client.post(
        "/webhooks/twilio",
        content=content,
        headers={"Content-Type": content_type, "X-Twilio-Signature": "irrelevant"},
    )
    assert response.status_code == status
    assert text in response.text
    assert db.count("messages") == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"From": ""}, "missing field: From"),
        ({"To": ""}, "missing field: To"),
        ({"From": "whatsapp:hello"}, "From is not a phone number"),
        ({"To": "whatsapp:+1"}, "To is not a phone number"),
        ({"MessageSid": "", "SmsMessageSid": ""}, "missing field: MessageSid"),
        ({"NumMedia": "many"}, "NumMedia is not a number"),
        ({"NumMedia": "99"}, "NumMedia must be between"),
        ({"Body": "x" * 9000}, "exceeds 8192 characters"),
        ({"Body": "a\x00b"}, "contains a NUL character"),
        ({"MediaUrl0": "\x00", "NumMedia": "1"}, "contains a NUL character"),
    ],
)
def test_signed_but_invalid_messages_get_400_and_nothing_stored(
    client: TestClient, db: Db, change: dict[str, str], message: str
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    form = {**inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola"), **change}
    response = signed_post(client, form)
    assert response.status_code == 400
    assert message in response.text
    assert db.count("messages") == 0
    assert db.count("chat_history") == 0


def test_shared_samples_of_every_message_type_are_accepted(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, shared_samples: dict[str, dict[str, str]]
) -> None:
    db.add_advisor("Ana", "+14155238886")
    for name in (
        "inbound-text",
        "inbound-image-caption",
        "inbound-location",
        "inbound-button-reply",
        "inbound-voice-note",
    ):
        response = signed_post(client, shared_samples[name])
        assert response.status_code == 200, name
    settle(db)
    rows = db.query("SELECT body, media, payload FROM messages WHERE direction = 'inbound' ORDER BY id")
    assert len(rows) == 5
    assert rows[1]["media"][0]["content_type"] == "image/jpeg"
    assert rows[2]["payload"]["Latitude"] == "4.6097"
    assert rows[3]["payload"]["ButtonPayload"] == "schedule_visit"


def test_database_down_answers_503_so_twilio_retries(
    make_settings: Callable[..., Settings], db: Db, database_url: str
) -> None:
    import psycopg

    db.add_advisor("Ana", ADVISOR_NUMBER)
    settings = make_settings(database_timeout_seconds=1)
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with TestClient(create_app(settings)) as client:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        try:
            down = signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola"))
            ready = client.get("/readyz")
            health = client.get("/healthz")
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert down.status_code == 503
        assert down.headers["Retry-After"] == "5"
        assert ready.status_code == 503
        assert health.status_code == 200
        # The pool reconnects with backoff; once ready, messages are accepted again.
        wait_for(lambda: client.get("/readyz").status_code == 200, what="the server to be ready again")
        back = signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola de nuevo"))
        assert back.status_code == 200
        assert client.get("/readyz").json()["database"] == "ok"
    assert [r["body"] for r in db.query("SELECT body FROM messages WHERE direction = 'inbound'")] == [
        "Hola de nuevo"
    ]


def _urlencode(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def _form_headers(signature: str) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}


def test_a_debounced_message_commits_without_notify_and_a_due_one_wakes_the_workers(
    make_settings: Callable[..., Settings], db: Db, database_url: str
) -> None:
    """A NOTIFY makes its transaction commit alone (sql/0016_quiet_commits.sql): a webhook whose
    answer job waits DEBOUNCE_SECONDS has nobody to wake, so it sends none; a job due at once
    still wakes the workers, and the console no longer hears rows by NOTIFY at all."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    channels = ("procrastinate_any_queue_v1", "advisor_bot_console")
    with psycopg.connect(database_url, autocommit=True) as listener:
        for channel in channels:
            listener.execute(f"LISTEN {channel}")

        def heard() -> list[str]:
            return [notify.channel for notify in listener.notifies(timeout=1.0, stop_after=10)]

        for debounce, text in ((30, "Hola"), (0, "Sigo aquí")):
            with TestClient(create_app(make_settings(debounce_seconds=debounce), run_worker=False)) as app:
                assert signed_post(app, inbound_form(ADVISOR_NUMBER, CUSTOMER, text)).status_code == 200
            if debounce:
                assert heard() == []
            else:
                assert heard() == ["procrastinate_any_queue_v1"]
    assert [row["body"] for row in db.query("SELECT body FROM messages ORDER BY id")] == ["Hola", "Sigo aquí"]
    assert db.count("procrastinate_jobs") == 2
