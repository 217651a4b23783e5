"""Tenant isolation as a property: random interleavings never leak across advisors."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from memory.ai.thread import thread_id_for
from tests.conftest import Db, fuzz_examples, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ADMIN = "admin-token-for-property-0123456789"
_numbers = itertools.count(1)

operations = st.lists(
    st.tuples(
        st.sampled_from(["message", "message", "message", "ia_off", "ia_on", "relay", "api_off", "api_on"]),
        st.integers(min_value=0, max_value=1),  # advisor
        st.integers(min_value=0, max_value=1),  # customer (shared by both advisors)
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def app_client(make_settings: Callable[..., Settings], db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=ADMIN))) as client:
        yield client


@settings(
    max_examples=fuzz_examples(20), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_random_interleavings_keep_every_advisor_apart(
    app_client: TestClient,
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    ops: list[tuple[str, int, int]],
) -> None:
    run = next(_numbers)
    advisors = []
    for index in range(2):
        number, phone = f"+1415700{run:02d}{index}0", f"+57310{run:03d}{index}001"
        advisors.append(
            {
                "id": db.add_advisor(f"Asesor{run}x{index}", number, phone=phone),
                "number": number,
                "phone": phone,
                "name": f"Asesor{run}x{index}",
            }
        )
    customers = [f"+57320{run:03d}{index}002" for index in range(2)]
    sent_texts: dict[tuple[int, int], list[str]] = {}
    relays: dict[tuple[int, int], list[str]] = {}
    attention: dict[tuple[int, int], bool] = {}

    for step, (kind, a, c) in enumerate(ops):
        advisor, customer = advisors[a], customers[c]
        key = (a, c)
        if kind == "message":
            text = f"t{run}-a{a}-c{c}-{step}"
            assert signed_post(app_client, inbound_form(advisor["number"], customer, text)).status_code == 200
            sent_texts.setdefault(key, []).append(text)
            attention.setdefault(key, True)
        elif kind in ("ia_off", "ia_on", "relay"):
            command = {
                "ia_off": f"#ia off {customer}",
                "ia_on": f"#ia on {customer}",
                "relay": f"#r {customer} r{run}-a{a}-c{c}-{step}",
            }[kind]
            reply = signed_post(app_client, inbound_form(advisor["number"], advisor["phone"], command))
            assert reply.status_code == 200 and "<Message>" in reply.text
            if key in attention:
                if kind == "relay":
                    relays.setdefault(key, []).append(f"r{run}-a{a}-c{c}-{step}")
                    attention[key] = False
                else:
                    attention[key] = kind == "ia_on"
            else:
                assert "No tienes ninguna conversación" in reply.text
        else:
            conversation = db.conversation(advisor["id"], customer)
            if conversation is None:
                continue
            body = {"ai_attention": kind == "api_on"}
            url = f"/api/conversations/{conversation['conversation_id']}"
            assert (
                app_client.patch(url, json=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code
                == 200
            )
            attention[key] = kind == "api_on"
    settle(db)
    wait_for(
        lambda: all(r in fake_twilio.bodies_to(customers[c]) for (a, c), rs in relays.items() for r in rs),
        what="every relay to arrive",
    )

    for a, advisor in enumerate(advisors):
        for c, customer in enumerate(customers):
            key = (a, c)
            conversation = db.conversation(advisor["id"], customer)
            if key not in sent_texts:
                assert conversation is None
                continue
            assert conversation is not None and conversation["ai_attention"] is attention[key]
            inbound = [
                r["body"]
                for r in db.query(
                    "SELECT body FROM messages WHERE advisor_id = %s AND conversation_id = %s "
                    "AND direction = 'inbound' ORDER BY id",
                    (advisor["id"], conversation["conversation_id"]),
                )
            ]
            assert inbound == sent_texts[key]
            manual = [
                r["body"]
                for r in db.query(
                    "SELECT body FROM messages WHERE advisor_id = %s AND conversation_id = %s "
                    "AND author = 'advisor' ORDER BY id",
                    (advisor["id"], conversation["conversation_id"]),
                )
            ]
            assert manual == relays.get(key, [])
            # What reached this customer from this advisor's number is only this pair's traffic.
            for sent in fake_twilio.sent:
                if sent.to == f"whatsapp:{customer}" and sent.from_ == f"whatsapp:{advisor['number']}":
                    assert f"a{a}-c{c}-" in sent.body, sent.body
    # Every model call saw one advisor's prompt and only that advisor's customer texts.
    for request in fake_openai.requests:
        system = request["messages"][0]["content"]
        users = [str(m["content"]) for m in request["messages"] if m["role"] == "user"]
        owner = next((a for a, adv in enumerate(advisors) if adv["name"] in system), None)
        if owner is None:
            continue  # a call from an earlier example
        pair_marks = {u.split("-")[1] + "-" + u.split("-")[2] for u in users if u.startswith(f"t{run}-")}
        assert len(pair_marks) <= 1 and all(mark.startswith(f"a{owner}") for mark in pair_marks)
    threads = {row["thread_id"] for row in db.query("SELECT DISTINCT thread_id FROM checkpoints")}
    for a, advisor in enumerate(advisors):
        for c, customer in enumerate(customers):
            if thread_id_for(advisor["id"], customer) in threads:
                assert (a, c) in sent_texts
