"""Owns what a browser sees at a console address that does not exist: a page, not raw JSON.

Another advisor's conversation answers the same page as one that does not exist (pages.py), so
the page says both. The API and every non-browser client keep FastAPI's JSON answers.
"""

from __future__ import annotations

from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.web.console.rendering import render

CONSOLE_PREFIX = "/console"


async def console_not_found(request: Request, error: Exception) -> Response:
    """A 404 under /console for a browser's page request: the console's own page, in its language."""
    assert isinstance(error, HTTPException)
    wants_page = "text/html" in request.headers.get("accept", "") and not request.headers.get("hx-request")
    if error.status_code == 404 and request.url.path.startswith(CONSOLE_PREFIX) and wants_page:
        return render(request, "missing.html", None, status_code=404)
    return await http_exception_handler(request, error)
