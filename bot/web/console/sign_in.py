"""Owns signing in to the console and out of it: links, tokens, the language cookie.

A link is spent by a POST from its page, never by opening it; the sign-in forms carry a
double-submit CSRF token (no session exists yet to hold one); failures are throttled per address.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from advisors.console_access import (
    SESSION_LIFETIME,
    end_session,
    open_session,
    read_cookie,
    sign_cookie,
    use_link,
)
from advisors.texts import LANGUAGES
from advisors.tokens import live_token
from bot.web.console.guard import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Acting,
    client_address,
    read_form,
    runtime_of,
)
from bot.web.console.rendering import render

router = APIRouter(prefix="/console", include_in_schema=False)


def _cookie_flags(request: Request) -> dict[str, Any]:
    base = runtime_of(request).settings.public_base_url or ""
    return {"httponly": True, "samesite": "lax", "secure": base.startswith("https://"), "path": "/"}


def _signed_in(request: Request, session_id: str, *, go_to: str = "/console") -> Response:
    response = RedirectResponse(go_to, status_code=303)
    runtime = runtime_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        sign_cookie(session_id, runtime.console_key),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        **_cookie_flags(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _login_page(
    request: Request, *, template: str = "login.html", problem: str | None = None, **extra: Any
) -> Response:
    """A sign-in form, with a fresh double-submit token (no session exists yet to hold one)."""
    login_csrf = secrets.token_urlsafe(24)
    status = 429 if problem == "login.throttled" else (401 if problem else 200)
    response = render(
        request, template, None, status_code=status, problem=problem, login_csrf=login_csrf, **extra
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, login_csrf, max_age=3600, **_cookie_flags(request))
    return response


async def _sign_in_form(request: Request, expired: str) -> dict[str, str]:
    """A sign-in POST's form, once its CSRF token holds."""
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
        raise HTTPException(403, expired)
    return form


@router.get("/login", name="console_login")
async def login_page(request: Request) -> Response:
    """The token sign-in form (admin token or an advisor's API token)."""
    return _login_page(request)


@router.post("/login", name="console_sign_in")
async def sign_in(request: Request) -> Response:
    """Sign in with ADMIN_TOKEN or an advisor's API token; failures are throttled per address."""
    form = await _sign_in_form(request, "sign-in form expired; reload the page")
    runtime = runtime_of(request)
    token = form.get("token", "").strip()
    client = client_address(request)
    is_admin = runtime.is_admin_token(token)
    if not is_admin and not runtime.auth_failures.allows(client, token):
        return _login_page(request, problem="login.throttled")
    async with runtime.pool.connection() as conn, conn.transaction():
        if is_admin:
            session = await open_session(
                conn=conn, advisor_id=None, admin_fingerprint=runtime.admin_fingerprint
            )
            return _signed_in(request, session)
        found = await live_token(conn=conn, token=token) if token else None
        if found is not None:
            token_id, advisor_id = found
            return _signed_in(
                request, await open_session(conn=conn, advisor_id=advisor_id, token_id=token_id)
            )
    runtime.auth_failures.failed(client, token)
    return _login_page(request, problem="login.bad_token")


@router.get("/link/{link}", name="console_link")
async def link_page(request: Request, link: str) -> Response:
    """A sign-in link: the page spends it by POST (the browser submits it at once).

    Opening the URL alone spends nothing, so a chat app's link preview cannot use it up.
    """
    return _login_page(request, template="link.html", link=link[:100])


@router.post("/link", name="console_use_link")
async def use_sign_in_link(request: Request) -> Response:
    """Spend a single-use link (15 minutes) and open an advisor's session."""
    form = await _sign_in_form(request, "sign-in form expired; open the link again")
    runtime = runtime_of(request)
    client, secret = client_address(request), form.get("link", "")
    if not runtime.auth_failures.allows(client, secret):
        return _login_page(request, problem="login.throttled")
    async with runtime.pool.connection() as conn, conn.transaction():
        advisor_id = await use_link(conn=conn, secret=secret)
        if advisor_id is not None:
            return _signed_in(request, await open_session(conn=conn, advisor_id=advisor_id))
    runtime.auth_failures.failed(client, secret)
    return _login_page(request, problem="login.bad_link")


@router.post("/logout", name="console_sign_out")
async def sign_out(request: Request, who: Acting) -> Response:
    """End the session at once, here and in every process."""
    runtime = runtime_of(request)
    session_id = read_cookie(request.cookies.get(SESSION_COOKIE, ""), runtime.console_key)
    if session_id:
        async with runtime.pool.connection() as conn:
            await end_session(conn=conn, session_id=session_id)
    response = RedirectResponse(request.url_for("console_login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{language}", name="console_language")
async def choose_language(request: Request, language: str) -> Response:
    """Switch the console's language (a cookie), back to the page it was chosen on."""
    back = request.headers.get("referer", "")
    base = str(request.base_url)
    response = RedirectResponse(back if back.startswith(base) else "/console", status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, **_cookie_flags(request))
    return response
