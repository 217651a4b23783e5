"""Owns who is looking at a console page: the session cookie, the CSRF check, the page language.

Every console handler takes a `Viewer` (or `Actor` for a state-changing request). Without a
valid session, a page request is sent to the sign-in page (an htmx request is told to go
there with `HX-Redirect`); a state-changing request must also carry the session's CSRF token,
in the `X-CSRF-Token` header (htmx) or the `csrf` form field (plain forms).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Request
from starlette.responses import Response

from advisors.console_access import ConsoleSession, find_session, read_cookie
from advisors.texts import Language, pick_language, text
from bot.web.runtime import WebRuntime
from bot.web.twilio_requests import read_form as read_capped_form

SESSION_COOKIE = "advisor_console"
LANGUAGE_COOKIE = "advisor_console_lang"
LOGIN_CSRF_COOKIE = "advisor_console_login"
MAX_FORM_BYTES = 64 * 1024


class SignInRequiredError(Exception):
    """No valid session: the handler in `bot.web.console.routes` sends the browser to sign in."""


def runtime_of(request: Request) -> WebRuntime:
    """The process runtime, from the lifespan state."""
    runtime: WebRuntime = request.state.runtime
    return runtime


def language_of(request: Request) -> Language:
    """The language chosen by cookie, Spanish by default."""
    return pick_language(request.cookies.get(LANGUAGE_COOKIE))


def client_address(request: Request) -> str:
    """The address sign-in attempts are throttled by."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: the admin, or one advisor; and the page language."""

    session: ConsoleSession
    language: Language

    @property
    def advisor_id(self) -> UUID | None:
        """The advisor whose data this viewer may see; None for the admin (everyone)."""
        return self.session.advisor_id

    @property
    def is_admin(self) -> bool:
        """True for the admin."""
        return self.session.is_admin

    def t(self, key: str) -> str:
        """A fixed text in the viewer's language."""
        return text(key, self.language)

    def require_admin(self) -> None:
        """Refuse an advisor where only the admin may act."""
        if not self.is_admin:
            raise HTTPException(403, self.t("error.forbidden"))


async def viewer(request: Request) -> Viewer:
    """The valid session behind the cookie, checked against the database on every request.

    Raises:
        SignInRequiredError: no cookie, a forged one, or a session that ended (signed out,
            expired, advisor deactivated, token revoked).
    """
    runtime = runtime_of(request)
    session_id = read_cookie(request.cookies.get(SESSION_COOKIE, ""), runtime.console_key)
    if session_id is None:
        raise SignInRequiredError
    async with runtime.pool.connection() as conn:
        session = await find_session(
            conn=conn, session_id=session_id, admin_fingerprint=runtime.admin_fingerprint
        )
    if session is None:
        raise SignInRequiredError
    request.state.actor = "admin" if session.advisor_id is None else str(session.advisor_id)  # access log
    return Viewer(session=session, language=language_of(request))


async def read_form(request: Request) -> dict[str, str]:
    """The URL-encoded form the console posts, read like a webhook's: capped in size and time."""
    runtime = runtime_of(request)
    form = await read_capped_form(
        request, max_bytes=MAX_FORM_BYTES, timeout=runtime.settings.webhook_body_timeout_seconds
    )
    if isinstance(form, Response):
        raise HTTPException(form.status_code, bytes(form.body).decode().strip())
    fields = {key: str(value) for key, value in form.items()}
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise HTTPException(400, "NUL in form")  # PostgreSQL text cannot hold it
    return fields


@dataclass(frozen=True)
class Actor(Viewer):
    """A viewer whose state-changing request carried the right CSRF token; with its form."""

    form: dict[str, str]


async def actor(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Actor:
    """The viewer of a POST, once its CSRF token matches the session's (403 otherwise)."""
    form = await read_form(request)
    presented = request.headers.get("x-csrf-token") or form.get("csrf", "")
    if not hmac.compare_digest(presented.encode(), who.session.csrf_token.encode()):
        raise HTTPException(403, who.t("error.csrf"))
    return Actor(session=who.session, language=who.language, form=form)


SignedIn = Annotated[Viewer, Depends(viewer)]
Acting = Annotated[Actor, Depends(actor)]
