"""Owns Twilio webhook authentication: the URL Twilio signed, and the signature check."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Mapping
from urllib.parse import urlparse

from starlette.datastructures import FormData
from starlette.requests import Request
from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    compare,
    get_signature_algorithm,
    remove_port,
)

from bot.settings import Settings


def public_url_for(request: Request, base_url: str | None) -> str:
    """Return the URL Twilio called: PUBLIC_BASE_URL + path + query when set, else the request URL.

    Validate against PUBLIC_BASE_URL, not request.url, when TLS ends at a proxy: the app then
    sees http://internal-host while Twilio signed https://public-host.
    """
    if not base_url:
        return str(request.url)
    url = base_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


def signature_is_valid(
    *,
    url: str,
    form: FormData | Mapping[str, str],
    headers: Mapping[str, str],
    auth_token: str | None,
    shared_key: str | None = None,
) -> bool:
    """Check `X-Twilio-Signature` over every received field, repeated keys included.

    A missing header is a failure, checked here first because `RequestValidator.validate`
    raises rather than returning False on it. HMAC-SHA256 is used when the signature-settings
    header names it, keyed with the shared key when one is configured.
    """
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        return False
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    key = auth_token if algorithm == HMAC_SHA1 else (shared_key or auth_token)
    if not key:
        return False
    validator = _validator(key)
    # FormData has getlist(), which RequestValidator uses to sign every value of a repeated key.
    # `validate` signs the URL both with and without its port, always: two HMACs per webhook.
    # The same two URLs are tried here, the one exactly as called first (the one Twilio almost
    # always signed), stopping at the first match.
    if "bodySHA256" in url:
        return bool(validator.validate(url, form, signature, algorithm=algorithm))
    parsed = urlparse(url)
    try:
        return any(
            compare(validator.compute_signature(candidate, form, algorithm), signature)
            for candidate in dict.fromkeys((url, remove_port(parsed), add_port(parsed)))
        )
    except ValueError:  # an algorithm the library does not know: refused (and logged) by it
        return bool(validator.validate(url, form, signature, algorithm=algorithm))


@functools.lru_cache(maxsize=8)
def _validator(key: str) -> RequestValidator:
    return RequestValidator(key)


def local_auth_token(settings: Settings) -> str | None:
    """Return the token webhooks are signed with: TWILIO_AUTH_TOKEN, else a local development one.

    With no Twilio account (the quick start) signatures are still checked: the server and
    `advisor-bot simulate` share a random token kept beside the embedded database, readable by
    its owner only. In production a missing token means every webhook is refused.
    """
    if settings.twilio_auth_token is not None:
        return settings.twilio_auth_token.get_secret_value()
    if settings.environment == "production":
        return None
    path = settings.embedded_data_dir.resolve().parent / "dev-twilio-auth-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside, then link into place: the link fails if another process won the race, and
    # nobody ever reads a half-written token.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(16))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="utf-8").strip()
