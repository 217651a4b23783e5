"""Owns the access log: one line per API and console request, for seeing who did what, how fast.

Method, the route's path template (never the ids in the URL, never a query string that could
carry a token), status, duration and who asked (an advisor's id, or `admin`). The webhook is
not logged here: it logs its own outcome, and at Twilio's rate a line per request is noise.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.web.response_status import StatusCapture

logger = logging.getLogger("bot.access")
LOGGED_PREFIXES = ("/api/", "/console")


def path_template(path: str, scope: Scope) -> str:
    """`path` with each path parameter's value put back as `{name}`.

    Built from the path as it arrived and the parameters routing found, rather than the route
    object: a router included under a prefix holds its routes' paths without the prefix, and
    rewrites the scope's path for them.
    """
    names = {str(value): name for name, value in (scope.get("path_params") or {}).items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in path.split("/"))


class AccessLog:
    """ASGI middleware: logs after the response is sent (streams included), whatever happened."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; for API and console paths, log it once it is answered."""
        if scope["type"] != "http" or not scope["path"].startswith(LOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = str(scope["path"])
        sending = StatusCapture(send)
        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            state = scope.get("state") or {}
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": path_template(arrived, scope) if route is not None else "(no route)",
                    "status": sending.status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "actor": state.get("actor", "anonymous") if isinstance(state, dict) else "anonymous",
                },
            )
