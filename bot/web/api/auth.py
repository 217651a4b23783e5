"""Owns who is calling the API: the admin token, or one advisor's token.

The admin token sees every advisor; an advisor's token sees only that advisor's data, and
another advisor's conversation is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from advisors.tokens import advisor_for_token
from bot.web.runtime import WebRuntime

bearer = HTTPBearer(auto_error=False, description="The admin token or an advisor's token")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the admin (`advisor_id` None) or one advisor."""

    advisor_id: UUID | None

    @property
    def is_admin(self) -> bool:
        """True for the admin token."""
        return self.advisor_id is None

    def require_admin(self) -> None:
        """Refuse an advisor's token where only the admin may act."""
        if not self.is_admin:
            raise HTTPException(403, "admin token required")


def runtime_of(request: Request) -> WebRuntime:
    """The process runtime, from the lifespan state."""
    runtime: WebRuntime = request.state.runtime
    return runtime


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Authenticate the Bearer token; 401 for a missing or unknown one, 429 for a guesser.

    Valid tokens are limited per token (API_RATE_LIMIT). Failures are throttled per address and
    presented token (API_AUTH_FAILURE_RATE_LIMIT), under a per-address ceiling twenty times
    higher, before they cost a database look-up: a fresh random guess per request meets the
    ceiling, and the admin token or a valid cached token is never refused for another's failures.
    """
    runtime = runtime_of(request)
    client = request.client.host if request.client else "unknown"
    presented = credentials.credentials if credentials else ""
    if not runtime.api_limiter.allow(hashlib.sha256((presented or client).encode()).hexdigest()):
        raise _too_many()
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        if not runtime.auth_failures.allows(client, ""):
            raise _too_many()
        runtime.auth_failures.failed(client, "")
        raise HTTPException(401, "missing Bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    if runtime.is_admin_token(token):
        request.state.actor = "admin"  # for the access log
        return Principal(advisor_id=None)
    advisor_id = runtime.tokens.get(token)
    if advisor_id is None:
        # Only a token that needs a look-up can be throttled, and only by its own failures and
        # its address's: a stale token retried for ever never locks a valid one out.
        if not runtime.auth_failures.allows(client, token):
            raise _too_many()
        async with runtime.pool.connection() as conn:
            advisor_id = await advisor_for_token(conn=conn, token=token)
        if advisor_id is None:
            runtime.auth_failures.failed(client, token)
            raise HTTPException(
                401,
                "invalid token (unknown, revoked, or its advisor is inactive)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        runtime.tokens.remember(token, advisor_id)
    request.state.actor = str(advisor_id)  # for the access log
    return Principal(advisor_id=advisor_id)


def _too_many() -> HTTPException:
    return HTTPException(429, "too many requests, retry later", headers={"Retry-After": "1"})


Caller = Annotated[Principal, Depends(principal)]


def uuid_or_404(value: str, what: str) -> UUID:
    """Read a path id; anything that is not a UUID names nothing, so it is a 404."""
    try:
        return UUID(value)
    except ValueError:
        raise HTTPException(404, f"no such {what}") from None
