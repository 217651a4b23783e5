"""The API's own pages and records: /docs without internet, one access-log line per request."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient

from tests.bot.web.api.conftest import ADMIN_TOKEN, bearer
from tests.conftest import Db


def test_the_api_docs_work_offline_every_asset_served_by_the_app(admin_api: TestClient) -> None:
    page = admin_api.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the app"
        assert admin_api.get(asset).status_code == 200, asset
    assert "cdn" not in page.text.lower()


def test_each_api_request_is_logged_with_its_route_status_and_caller_never_the_token(
    admin_api: TestClient, db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    ana = db.add_advisor("Ana", "+14155238886")
    caplog.set_level(logging.INFO, logger="bot.access")
    assert admin_api.get(f"/api/advisors/{ana}/stats", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert admin_api.get("/api/conversations/not-a-uuid", headers=bearer(ADMIN_TOKEN)).status_code == 404
    assert admin_api.get("/api/conversations", headers=bearer("wrong-token")).status_code == 401
    lines = [r for r in caplog.records if r.name == "bot.access"]
    seen = [(r.method, r.path, r.status, r.actor) for r in lines]  # type: ignore[attr-defined]
    assert seen == [
        ("GET", "/api/advisors/{advisor_id}/stats", 200, "admin"),
        ("GET", "/api/conversations/{conversation_id}", 404, "admin"),
        ("GET", "/api/conversations", 401, "anonymous"),
    ]
    assert all(r.duration_ms >= 0 for r in lines)  # type: ignore[attr-defined]
    assert ADMIN_TOKEN not in caplog.text and "wrong-token" not in caplog.text
