from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_exactly_the_settings_fields() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_env_example_loads_as_valid_settings() -> None:
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert settings.advisor_cache_ttl == 86_400
    assert settings.validate_twilio_signature is True
    assert settings.twilio_auth_token is None  # empty values count as unset
    assert settings.twilio_configured is False
    assert settings.model_configured is False


def test_defaults_named_by_the_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.debounce_seconds == 2
    assert settings.log_mask_phones is True
