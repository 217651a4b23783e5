"""Events to other systems: signed, enqueued with the change they report, retried after failures."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.infra.events import SIGNATURE_HEADER, ReceiverBreakers, TransientEventError, sign_event, verify_event
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeReceiver, FakeTwilio, Reply, echo_model

SECRET = "whsec_test_0123456789abcdef"
ADVISOR, ADVISOR_PHONE, CUSTOMER = "+14155238886", "+573005550001", "+573001112233"


@pytest.fixture
def events_client(
    make_settings: Callable[..., Settings], db: Db, receiver: FakeReceiver
) -> Iterator[TestClient]:
    settings = make_settings(event_webhook_urls=receiver.url, event_webhook_secret=SECRET)
    with TestClient(create_app(settings)) as client:
        yield client


def _types(receiver: FakeReceiver) -> list[str]:
    return [event["type"] for event in receiver.accepted()]


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"type":"message.sent"}'
    now = int(time.time())
    header = sign_event(body, secret=SECRET, timestamp=now)
    assert verify_event(body, header, secret=SECRET)
    assert not verify_event(body + b" ", header, secret=SECRET)
    assert not verify_event(body, header, secret="another-secret-000")
    assert not verify_event(body, sign_event(body, secret=SECRET, timestamp=now - 3600), secret=SECRET)
    assert not verify_event(body, "garbage", secret=SECRET)


def test_events_are_signed_and_retried_after_the_receiver_fails_twice(
    events_client: TestClient, db: Db, receiver: FakeReceiver, fake_twilio: FakeTwilio
) -> None:
    # Only message.received fails: message.sent may arrive between its attempts.
    receiver.failures, receiver.failing_type = [500, 503], "message.received"
    advisor_id = db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    assert signed_post(events_client, inbound_form(ADVISOR, CUSTOMER, "Hola")).status_code == 200
    wait_for(lambda: {"message.received", "message.sent"} <= set(_types(receiver)), what="both events")
    attempts = [item for item in receiver.received if item.json()["type"] == "message.received"]
    assert [item.headers["x-answered"] for item in attempts] == ["500", "503", "200"]
    assert len({item.json()["id"] for item in attempts}) == 1  # the same event, delivered again
    for item in receiver.received:
        assert verify_event(item.body, item.headers[SIGNATURE_HEADER.lower()], secret=SECRET)
    received = next(e for e in receiver.accepted() if e["type"] == "message.received")
    assert received["data"]["advisor_id"] == advisor_id
    assert received["data"]["phone_number"] == CUSTOMER
    assert received["data"]["body"] == "Hola"
    sent = next(e for e in receiver.accepted() if e["type"] == "message.sent")
    assert sent["data"]["twilio_sid"] == fake_twilio.sent[0].sid
    assert sent["data"]["author"] == "ai"


def test_handover_and_attention_changes_are_reported(
    events_client: TestClient,
    db: Db,
    receiver: FakeReceiver,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Te paso con Ana."}
        if "persona" in str(messages[-1]["content"]):
            return {
                "tool_calls": [
                    ("hand_over_to_advisor", {"reason": "pide una persona", "category": "customer_request"})
                ]
            }
        return echo_model(messages)

    fake_openai.behaviour = model
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    signed_post(events_client, inbound_form(ADVISOR, CUSTOMER, "quiero una persona"))
    wait_for(lambda: "handover.requested" in _types(receiver), what="the handover event")
    handover = next(e for e in receiver.accepted() if e["type"] == "handover.requested")
    assert handover["data"]["reason"] == "pide una persona"
    assert handover["data"]["category"] == "customer_request"
    assert handover["data"]["phone_number"] == CUSTOMER
    wait_for(lambda: "ai_attention.changed" in _types(receiver))
    signed_post(events_client, inbound_form(ADVISOR, ADVISOR_PHONE, "#ia on 3001112233"))
    wait_for(lambda: _types(receiver).count("ai_attention.changed") == 2, what="the hand-back event")
    changes = [e["data"] for e in receiver.accepted() if e["type"] == "ai_attention.changed"]
    assert [(c["ai_attention"], c["changed_by"]) for c in changes] == [(False, "ai"), (True, "advisor")]


def test_a_failed_send_is_reported(
    events_client: TestClient, db: Db, receiver: FakeReceiver, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_always = (400, 21211)
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    signed_post(events_client, inbound_form(ADVISOR, CUSTOMER, "Hola"))
    wait_for(lambda: "message.failed" in _types(receiver), what="the failure event")
    failed = next(e for e in receiver.accepted() if e["type"] == "message.failed")
    assert failed["data"]["error_code"] == "21211"


def test_a_receiver_refusing_for_good_is_not_retried(
    events_client: TestClient, db: Db, receiver: FakeReceiver
) -> None:
    receiver.failures, receiver.failing_type = [410], "message.received"
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    signed_post(events_client, inbound_form(ADVISOR, CUSTOMER, "Hola"))
    settle(db)
    wait_for(lambda: "message.sent" in _types(receiver))
    received = [item for item in receiver.received if item.json()["type"] == "message.received"]
    assert [item.headers["x-answered"] for item in received] == ["410"]


def test_no_receivers_means_no_event_jobs(client: TestClient, db: Db, fake_twilio: FakeTwilio) -> None:
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    signed_post(client, inbound_form(ADVISOR, CUSTOMER, "Hola"))
    wait_for(lambda: fake_twilio.sent)
    settle(db)
    assert db.count("procrastinate_jobs WHERE task_name = 'deliver_event'") == 0


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A receiver that accepts connections and never answers (a CRM on a very bad day)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/events"
    listener.close()


def test_a_blackholed_receiver_leaves_replies_as_fast_as_ever(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, blackhole: str
) -> None:
    """Issue 23, finding 15: event deliveries have their own slots, a short timeout and a breaker."""
    settings = make_settings(
        event_webhook_urls=blackhole,
        worker_concurrency=2,
        event_worker_concurrency=2,
        event_timeout_seconds=3,
        event_circuit_failures=2,
    )
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    customers = [f"+5730011100{n:02d}" for n in range(10)]
    with TestClient(create_app(settings)) as client:
        posted = {}
        for customer in customers:
            posted[customer] = time.time()
            assert signed_post(client, inbound_form(ADVISOR, customer, "Hola")).status_code == 200
        wait_for(lambda: all(fake_twilio.bodies_to(c) for c in customers), timeout=30, what="every reply")
        latencies = {
            c: next(m.accepted_at for m in fake_twilio.sent if m.to == f"whatsapp:{c}") - posted[c]
            for c in customers
        }
        # Sharing two slots with 20 events that each wait 3 s, the last reply would take ~30 s.
        assert max(latencies.values()) < settings.event_timeout_seconds, latencies
        events = db.query(
            "SELECT queue_name, count(*) AS n FROM procrastinate_jobs WHERE task_name = 'deliver_event' "
            "GROUP BY queue_name"
        )
        assert [row["queue_name"] for row in events] == ["events"]


def test_a_receiver_that_keeps_failing_is_left_alone_then_tried_once_again() -> None:
    now = [0.0]
    breakers = ReceiverBreakers(failures=3, seconds=30, clock=lambda: now[0])
    url = "https://crm.example/events"
    for _ in range(3):
        breakers.check(url)
        breakers.failed(url)
    assert breakers.is_open(url)
    with pytest.raises(TransientEventError, match="circuit open"):
        breakers.check(url)
    breakers.check("https://other.example/events")  # other receivers are unaffected
    now[0] = 31.0
    breakers.check(url)  # half open: one try goes through ...
    with pytest.raises(TransientEventError):
        breakers.check(url)  # ... and only one
    breakers.failed(url)
    now[0] = 45.0
    with pytest.raises(TransientEventError):
        breakers.check(url)  # it failed: open for another period
    now[0] = 62.0
    breakers.check(url)
    breakers.succeeded(url)
    assert not breakers.is_open(url)
    breakers.check(url)
    breakers.check(url)
