"""Logs carry the routing facts, mask customers and never print a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import AUTH_TOKEN, Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_logs_carry_routing_facts_with_the_customer_masked(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, capfd: pytest.CaptureFixture[str]
) -> None:
    advisor_id = db.add_advisor("Ana", "+14155238886")
    settings = make_settings(log_format="json", log_level="INFO")
    with TestClient(create_app(settings)) as client:
        assert signed_post(client, inbound_form("+14155238886", "+573001112233", "Hola")).status_code == 200
        wait_for(lambda: fake_twilio.sent, what="the reply")
    err = capfd.readouterr().err
    lines = _json_lines(err)
    accepted = [line for line in lines if line["message"] == "message accepted"]
    assert accepted, err
    assert accepted[0]["advisor"] == advisor_id
    assert accepted[0]["advisor_number"] == "+14155238886"
    assert accepted[0]["customer"] == "+57******2233"
    assert accepted[0]["direction"] == "inbound"
    assert "conversation" in accepted[0]
    assert "+573001112233" not in err
    assert AUTH_TOKEN not in err
    assert "sk-test-not-a-real-key" not in err


def test_secrets_in_a_message_are_redacted(
    make_settings: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    from bot.logging_setup import configure_logging

    configure_logging(make_settings(log_format="text", log_level="INFO"))
    logging.getLogger("test").error("token was %s and key %s", AUTH_TOKEN, "sk-test-not-a-real-key")
    err = capfd.readouterr().err
    assert "token was [redacted] and key [redacted]" in err
    assert AUTH_TOKEN not in err


def test_a_uuid_whose_last_group_is_all_digits_is_not_taken_for_a_phone(
    make_settings: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    from bot.logging_setup import configure_logging

    configure_logging(make_settings(log_level="INFO"))
    conversation = "2deaddc3-d729-4703-9c7d-718966393508"
    logging.getLogger("test").info(f"lock conversation:{conversation} for +573001112233 and -3001112233")
    err = capfd.readouterr().err
    assert conversation in err and "+57******2233" in err and "-300***2233" in err


def test_phone_masking_can_be_switched_off(
    make_settings: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    from bot.logging_setup import configure_logging

    configure_logging(make_settings(log_mask_phones=False, log_level="INFO"))
    logging.getLogger("test").info("from +573001112233", extra={"customer": "+573001112233"})
    err = capfd.readouterr().err
    assert "from +573001112233" in err and "customer=+573001112233" in err


def test_a_failed_job_logged_by_the_queue_library_carries_no_customer_number(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_openai: FakeOpenAI,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The queue library logs a failed job whole (lock and arguments); none of it names the customer."""
    db.add_advisor("Ana", "+14155238886")
    fake_openai.latency = 1.0
    settings = make_settings(
        log_format="json", log_level="INFO", openai_timeout_seconds=0.2, job_max_attempts=1
    )
    with TestClient(create_app(settings)) as client:
        assert signed_post(client, inbound_form("+14155238886", "+573001112233", "Hola")).status_code == 200
        wait_for(
            lambda: db.query("SELECT 1 FROM procrastinate_jobs WHERE status = 'failed'"),
            what="the job to fail",
        )
    err = capfd.readouterr().err
    conversation = str(db.query("SELECT conversation_id FROM chat_history")[0]["conversation_id"])
    assert any("conversation:" in line and conversation in line for line in err.splitlines()), err
    assert "573001112233" not in err
    assert "+57******2233" in err


def test_nobody_can_forge_or_flood_a_log_line(
    make_settings: Callable[..., Settings], db: Db, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(log_format="text", log_level="INFO")
    with TestClient(create_app(settings)) as client:
        forged = inbound_form("+14155238886", "+573001112233", "hola", MessageSid="SM1\nINFO admin logged in")
        assert client.post("/webhooks/twilio", data=forged).status_code == 403  # unsigned
    err = capfd.readouterr().err
    assert not any(line.startswith("INFO admin logged in") for line in err.splitlines())
    assert "SM1\\nINFO admin logged in" in err
    logging.getLogger("test").warning(
        "huge",
        extra={"sid": "S" * 60_000, "job": {"lock": "+573001112233", "kwargs": [AUTH_TOKEN]}},
    )
    line = next(line for line in capfd.readouterr().err.splitlines() if " huge " in line)
    assert len(line) < 3_000 and "59000 more chars" in line
    assert "+573001112233" not in line and AUTH_TOKEN not in line and "[redacted]" in line
