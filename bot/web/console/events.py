"""Owns `GET /console/events`: the server-sent events that keep an open console page current.

The page is told "conversation X changed" and fetches what it shows of X again; the event
carries no message text, so nothing is sent that the page would not fetch through the
session's own checks anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from advisors.console_access import find_session, read_cookie
from bot.web.console.guard import SESSION_COOKIE, SignedIn, runtime_of
from bot.web.live import stream

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/events", name="console_events")
async def console_events(request: Request, who: SignedIn) -> Response:
    """Changes of the conversations this viewer may see, as they are committed."""
    runtime = runtime_of(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")

    async def still_allowed() -> bool:
        session_id = read_cookie(cookie, runtime.console_key)
        if session_id is None or await request.is_disconnected():
            return False
        async with runtime.pool.connection() as conn:
            found = await find_session(
                conn=conn, session_id=session_id, admin_fingerprint=runtime.admin_fingerprint
            )
            return found is not None

    session = hashlib.sha256(cookie.encode()).hexdigest()
    limit = runtime.settings.console_streams_per_session
    if runtime.console_hub.open_streams(session) >= limit:
        return PlainTextResponse(f"at most {limit} live pages per session; close a tab", status_code=429)

    async def events() -> AsyncIterator[str]:
        with (
            runtime.console_hub.stream_slot(session, limit) as allowed,
            runtime.console_hub.subscribe(who.advisor_id) as subscription,
        ):
            if not allowed:
                yield "event: ended\ndata: too many live pages\n\n"
                return
            async for chunk in stream(subscription, still_allowed=still_allowed):
                yield chunk

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
