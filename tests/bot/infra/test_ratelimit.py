"""Rate limits: a flood from one caller gets clear 429s; others and later calls are unaffected."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from bot.app import create_app
from bot.infra.ratelimit import RateLimiter
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_bursts_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(2, burst=4, timer=clock)
    assert [limiter.allow("a") for _ in range(6)] == [True] * 4 + [False] * 2
    assert limiter.allow("b")  # another caller has its own bucket
    clock.now += 0.5  # one token back
    assert [limiter.allow("a") for _ in range(2)] == [True, False]
    clock.now += 10
    assert sum(limiter.allow("a") for _ in range(10)) == 4
    assert all(RateLimiter(0).allow("x") for _ in range(1000))


def test_webhook_and_api_answer_429_when_flooded(make_settings: Callable[..., Settings], db: Db) -> None:
    db.add_advisor("Ana", "+14155238886")
    settings = make_settings(webhook_rate_limit=1, api_rate_limit=1, admin_token="admin-token-0123456789")
    with TestClient(create_app(settings)) as client:
        webhook = [
            signed_post(client, inbound_form("+14155238886", "+573001112233", f"m{i}")).status_code
            for i in range(6)
        ]
        api = [
            client.get("/api/advisors", headers={"Authorization": "Bearer admin-token-0123456789"})
            for _ in range(6)
        ]
    assert webhook[:2] == [200, 200] and 429 in webhook
    assert [r.status_code for r in api][:2] == [200, 200] and 429 in [r.status_code for r in api]
    limited = next(r for r in api if r.status_code == 429)
    assert limited.headers["Retry-After"] == "1" and "too many requests" in limited.json()["detail"]
    # Refused webhook requests stored nothing (the worker may already have stored its replies).
    inbound = db.query("SELECT count(*) AS n FROM messages WHERE direction = 'inbound'")[0]["n"]
    assert inbound == webhook.count(200)
