"""Owns who may use the web console: single-use sign-in links, and the sessions they open.

Links and session ids are random secrets stored only as SHA-256 (like API tokens). A session is
checked against the database on every request: it is valid while unexpired and unended, while its
advisor is active and, when it began with an API token, while that token is unrevoked. So a
deactivation or a revocation ends every open session at once, in every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    """A valid session: the admin (`advisor_id` None) or one advisor, and its CSRF token."""

    id: int
    advisor_id: UUID | None
    csrf_token: str
    advisor_name: str | None = None  # who is signed in, as the console's header shows it

    @property
    def is_admin(self) -> bool:
        """True for the admin's session."""
        return self.advisor_id is None


async def issue_link(*, conn: Conn, advisor_id: UUID, lifetime: timedelta = LINK_LIFETIME) -> str:
    """Create a single-use sign-in secret for one advisor; return it (the only time it is visible)."""
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO console_links (advisor_id, link_sha256, expires_at) VALUES (%s, %s, now() + %s)",
        (advisor_id, _sha256(secret), lifetime),
    )
    return secret


async def use_link(*, conn: Conn, secret: str) -> UUID | None:
    """Spend a link: the active advisor it signs in, or None if unknown, used, expired or inactive."""
    cursor = await conn.execute(
        "UPDATE console_links l SET used_at = now() FROM advisors a "
        "WHERE a.id = l.advisor_id AND l.link_sha256 = %s AND l.used_at IS NULL "
        "AND l.expires_at > now() AND a.is_active IS TRUE RETURNING l.advisor_id",
        (_sha256(secret),),
    )
    row = await cursor.fetchone()
    return row["advisor_id"] if row else None


def admin_fingerprint(admin_token: str | None, key: bytes) -> str | None:
    """What binds an admin session to the ADMIN_TOKEN it began with (None: no admin token).

    An HMAC keyed by the cookie key: the token itself is never stored, and a rotated token gives
    another fingerprint, which ends every admin session that began with the old one.
    """
    if not admin_token:
        return None
    return hmac.new(key, b"admin-session:" + admin_token.encode(), hashlib.sha256).hexdigest()[:32]


async def open_session(
    *,
    conn: Conn,
    advisor_id: UUID | None,
    token_id: int | None = None,
    lifetime: timedelta = SESSION_LIFETIME,
    admin_fingerprint: str | None = None,
) -> str:
    """Start a session; return its id for the cookie (stored only as a hash)."""
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO console_sessions "
        "(session_sha256, advisor_id, token_id, csrf_token, expires_at, admin_fingerprint) "
        "VALUES (%s, %s, %s, %s, now() + %s, %s)",
        (_sha256(session_id), advisor_id, token_id, secrets.token_urlsafe(24), lifetime, admin_fingerprint),
    )
    return session_id


async def find_session(
    *, conn: Conn, session_id: str, admin_fingerprint: str | None
) -> ConsoleSession | None:
    """The session behind a cookie, if it is still valid (see the module's rules).

    `admin_fingerprint` is the current ADMIN_TOKEN's: an admin session that began with another
    token (rotated since) is not valid.
    """
    cursor = await conn.execute(
        "SELECT s.id, s.advisor_id, s.csrf_token, a.name AS advisor_name FROM console_sessions s "
        "LEFT JOIN advisors a ON a.id = s.advisor_id "
        "LEFT JOIN advisor_tokens t ON t.id = s.token_id "
        "WHERE s.session_sha256 = %s AND s.ended_at IS NULL AND s.expires_at > now() "
        "AND (s.advisor_id IS NOT NULL OR s.admin_fingerprint = %s) "
        "AND (s.advisor_id IS NULL OR a.is_active IS TRUE) "
        "AND (s.token_id IS NULL OR t.revoked_at IS NULL)",
        (_sha256(session_id), admin_fingerprint),
    )
    row = await cursor.fetchone()
    if row is None:
        # An admin session of a rotated token ends for good: rotating back revives nothing.
        await conn.execute(
            "UPDATE console_sessions SET ended_at = now() WHERE session_sha256 = %s AND advisor_id IS NULL "
            "AND admin_fingerprint IS DISTINCT FROM %s AND ended_at IS NULL",
            (_sha256(session_id), admin_fingerprint),
        )
        return None
    return ConsoleSession(
        id=int(row["id"]),
        advisor_id=row["advisor_id"],
        csrf_token=row["csrf_token"],
        advisor_name=row["advisor_name"],
    )


async def end_session(*, conn: Conn, session_id: str) -> None:
    """Sign out: the session stops working at once."""
    await conn.execute(
        "UPDATE console_sessions SET ended_at = now() WHERE session_sha256 = %s AND ended_at IS NULL",
        (_sha256(session_id),),
    )


async def cookie_key(*, conn: Conn) -> bytes:
    """The key that signs session cookies, shared by every process through the database."""
    cursor = await conn.execute("SELECT secret FROM console_keys WHERE name = 'cookie'")
    row = await cursor.fetchone()
    if row is None:  # pragma: no cover - the migration creates it
        raise RuntimeError("console_keys has no cookie key; run `advisor-bot db upgrade`")
    return hashlib.sha256(b"advisor-bot-console:" + str(row["secret"]).encode()).digest()


def sign_cookie(session_id: str, key: bytes) -> str:
    """The cookie value: the session id and its HMAC, so a forged or altered cookie is refused unread."""
    signature = hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()
    return f"{session_id}.{signature}"


def read_cookie(value: str, key: bytes) -> str | None:
    """The session id of a cookie whose signature holds, else None."""
    session_id, _, signature = value.rpartition(".")
    if not session_id:
        return None
    expected = hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()
    return session_id if hmac.compare_digest(expected, signature) else None
