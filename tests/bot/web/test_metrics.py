"""`/metrics`: scraped as Prometheus does, each metric moves when what it counts happens."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ANA = "+14155238886"
TOKEN = "metrics-token-0123456789abcdef"


def _scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_metric_moves_when_what_it_counts_happens(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA)
    with TestClient(create_app(make_settings(metrics_token=TOKEN))) as client:
        assert client.get("/metrics").status_code == 401
        before = _scrape(client)
        answers_before = len(fake_openai.usages)
        fake_twilio.failures = [(400, 63016)]  # the first reply is refused by Twilio
        for turn, text in enumerate(("Hola", "¿Sigues ahí?"), start=1):
            assert signed_post(client, inbound_form(ANA, "+573001112233", text)).status_code == 200
            wait_for(lambda turn=turn: fake_twilio.attempts >= turn, what="a send attempt")
            settle(db)
        assert signed_post(client, inbound_form("+14155550000", "+573001112233", "¿Hola?")).status_code == 200
        after = _scrape(client)
        usages = fake_openai.usages[answers_before:]

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("advisor_bot_webhook_requests_total", status="200") == 3
    assert moved("advisor_bot_webhook_seconds_count") == 3
    assert moved("advisor_bot_jobs_total", task="answer_conversation", outcome="answered") == 2
    assert moved("advisor_bot_job_seconds_count", task="answer_conversation") >= 2
    assert moved("advisor_bot_replies_total", status="answered") == 2
    assert moved("advisor_bot_model_seconds_count", advisor=ana) == 2
    assert len(usages) == 2  # the tokens counted are the ones the model reported, for Ana
    for kind in ("prompt", "completion"):
        reported = sum(usage[f"{kind}_tokens"] for usage in usages)
        assert reported > 2 and moved("advisor_bot_model_tokens_total", advisor=ana, kind=kind) == reported
    assert moved("advisor_bot_twilio_errors_total", code="63016") == 1
    assert moved("advisor_bot_advisor_cache_lookups_total", result="hit") >= 1
    assert (
        moved("advisor_bot_advisor_cache_lookups_total", result="miss") >= 2
    )  # Ana once, the unknown number
    assert _value(after, "advisor_bot_db_pool_connections", pool="web", state="open") >= 1
    assert _value(after, "advisor_bot_db_pool_connections", pool="worker", state="open") >= 1


def test_the_queue_depth_shows_jobs_waiting_for_a_busy_worker(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ANA)
    fake_openai.latency = 1.5
    with TestClient(create_app(make_settings(metrics_token=TOKEN, worker_concurrency=1))) as client:
        for n in range(3):
            assert signed_post(client, inbound_form(ANA, f"+57300111220{n}", "Hola")).status_code == 200
        wait_for(lambda: fake_openai.in_flight == 1, what="the worker busy with the first")
        busy = _scrape(client)
        assert _value(busy, "advisor_bot_queue_depth", task="answer_conversation") >= 1
        assert _value(busy, "advisor_bot_queue_oldest_seconds", task="answer_conversation") >= 0
        wait_for(lambda: len(fake_twilio.sent) == 3, timeout=30, what="every reply")
        settle(db)
        idle = _scrape(client)
        assert _value(idle, "advisor_bot_queue_depth", task="answer_conversation") == 0
