"""The API with an admin token, and advisor tokens issued as an admin issues them (the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db

ADMIN_TOKEN = "admin-token-for-api-tests-0123456"


@pytest.fixture
def admin_api(make_settings: Callable[..., Settings], db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN))) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def advisor_bearer(
    db: Db, advisor: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, str]:
    """A new token for `advisor` (id or Twilio number) from `advisor-bot advisors token`."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    assert main(["advisors", "token", advisor]) == 0
    return bearer(capsys.readouterr().out.strip().splitlines()[-1])
