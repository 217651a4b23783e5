from __future__ import annotations

import pytest
from starlette.datastructures import FormData
from starlette.requests import Request
from twilio.request_validator import RequestValidator

from bot.settings import Settings
from bot.twilio.signature import local_auth_token, public_url_for, signature_is_valid


def _request(path: str, query: str = "", host: str = "internal:8000", scheme: str = "http") -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "server": (host.split(":")[0], int(host.split(":")[1])),
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"host", host.encode())],
        }
    )


@pytest.mark.parametrize(
    ("base", "path", "query", "expected"),
    [
        (None, "/webhooks/twilio", "", "http://internal:8000/webhooks/twilio"),
        ("https://bot.example.com", "/webhooks/twilio", "", "https://bot.example.com/webhooks/twilio"),
        (
            "https://bot.example.com",
            "/webhooks/twilio",
            "a=1&b=2",
            "https://bot.example.com/webhooks/twilio?a=1&b=2",
        ),
        ("https://example.com/prefix", "/webhooks/twilio", "", "https://example.com/prefix/webhooks/twilio"),
    ],
)
def test_public_url_for(base: str | None, path: str, query: str, expected: str) -> None:
    assert public_url_for(_request(path, query), base) == expected


def test_missing_header_or_token_is_invalid_without_raising() -> None:
    form = {"Body": "hola"}
    assert signature_is_valid(url="http://x/", form=form, headers={}, auth_token="token-123") is False
    assert (
        signature_is_valid(url="http://x/", form=form, headers={"X-Twilio-Signature": "abc"}, auth_token=None)
        is False
    )


def test_local_token_is_stable_and_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, embedded_data_dir=tmp_path / "pgdata")  # type: ignore[call-arg]
    first, second = local_auth_token(settings), local_auth_token(settings)
    assert first and first == second
    assert ((tmp_path / "dev-twilio-auth-token").stat().st_mode & 0o777) == 0o600
    production = Settings(_env_file=None, environment="production", database_url="postgresql://x/y")  # type: ignore[call-arg]
    assert local_auth_token(production) is None


@pytest.mark.parametrize("name", ["TWILIO_AUTH_TOKEN", "OPENAI_API_KEY"])
def test_placeholder_secrets_are_refused_in_production(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, "changeme")
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x/y")
    with pytest.raises(ValueError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        ("https://bot.example.com/webhooks/twilio", "https://bot.example.com/webhooks/twilio"),
        ("https://bot.example.com:443/webhooks/twilio", "https://bot.example.com/webhooks/twilio"),
        ("https://bot.example.com/webhooks/twilio", "https://bot.example.com:443/webhooks/twilio"),
        ("http://127.0.0.1:8000/webhooks/twilio", "http://127.0.0.1:8000/webhooks/twilio"),
        ("http://127.0.0.1/webhooks/twilio", "http://127.0.0.1:8000/webhooks/twilio"),
        ("https://bot.example.com/webhooks/twilio", "https://other.example.com/webhooks/twilio"),
        ("https://bot.example.com/webhooks/twilio?a=1", "https://bot.example.com/webhooks/twilio?a=2"),
    ],
)
def test_the_check_agrees_with_twilios_validator_with_and_without_the_port(
    signed: str, received: str
) -> None:
    """The URL as received is tried first (one HMAC); the answer is the library's in every case."""
    token = "token-" + "7" * 26
    form = FormData([("Body", "hola"), ("MediaUrl0", "b"), ("MediaUrl0", "a"), ("From", "whatsapp:+57300")])
    signature = RequestValidator(token).compute_signature(signed, form)
    expected = RequestValidator(token).validate(received, form, signature)
    headers = {"X-Twilio-Signature": signature}
    assert signature_is_valid(url=received, form=form, headers=headers, auth_token=token) is expected
    assert signature_is_valid(url=received, form=form, headers=headers, auth_token=token + "x") is False


def test_an_unknown_signature_algorithm_is_refused_without_raising() -> None:
    token = "token-" + "7" * 26
    url = "https://bot.example.com/webhooks/twilio"
    form = FormData([("Body", "hola")])
    headers = {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, form),
        "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_MD5",
    }
    assert signature_is_valid(url=url, form=form, headers=headers, auth_token=token) is False
