"""Property: whatever a caller sends to the API, the answer is never a 5xx or a stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.app import create_app
from tests.conftest import Db, fuzz_examples

ADMIN = "admin-token-for-fuzz-0123456789"
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(
    ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "", "%00", "../../etc", "1" * 300]
) | st.uuids().map(str)
paths = st.sampled_from(
    [
        "/api/conversations/{id}",
        "/api/conversations/{id}/messages",
        "/api/conversations/{id}/crm",
        "/api/advisors/{id}/stats",
        "/api/crm/{id}/{id}",
        "/api/conversations",
        "/api/advisors",
    ]
)


@pytest.fixture
def api(make_settings: Any, db: Db) -> Iterator[TestClient]:
    db.add_advisor("Ana", "+14155238886")
    with TestClient(create_app(make_settings(admin_token=ADMIN)), raise_server_exceptions=False) as client:
        yield client


@settings(
    max_examples=fuzz_examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=paths,
    conversation=ids,
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    body=json_values,
    query=st.dictionaries(
        st.sampled_from(["cursor", "limit", "days", "ai_attention", "updated_since", "advisor_id"]),
        st.text(max_size=30),
        max_size=3,
    ),
    token=st.sampled_from([ADMIN, "", "abt_wrong", "Bearer"]),
)
def test_random_api_calls_never_fail_on_the_server(
    api: TestClient, path: str, conversation: str, method: str, body: Any, query: dict[str, str], token: str
) -> None:
    response = api.request(
        method,
        path.replace("{id}", conversation),
        json=body,
        params=query,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    if response.status_code == 503:  # the database did not answer in time: the only 5xx allowed
        assert response.headers["Retry-After"] and "database unavailable" in response.text
    else:
        assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
    assert ADMIN not in response.text
