"""Owns turning console data into HTML: the Jinja2 environment and the helpers templates use.

Pages are rendered on the server; htmx (vendored, served from `/console/static`) swaps the
parts that change. A page and its partial refresh are the same template: htmx selects the
element it asked for (`hx-select`), so there is one way to draw each thing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from advisors.texts import text
from bot.web.console.guard import Viewer, language_of
from bot.web.console.media_policy import media_shape

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
# Colombia has no daylight saving time: one offset for every message of the year.
SHOWN_TIMEZONE = timezone(timedelta(hours=-5), "COT")
# Only this server's scripts run on a console page (an injected <script> would not); inline
# styles are allowed for the dashboard's colour swatches and htmx's indicator style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:{media}; media-src 'self'{media}; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def content_security_policy(media_origin: str | None) -> str:
    """The console's policy; pictures and players may also load from CONSOLE_MEDIA_ORIGIN."""
    return CONTENT_SECURITY_POLICY.format(media=f" {media_origin}" if media_origin else "")


_TICKS = {"sent": "✓", "delivered": "✓✓", "read": "✓✓", "failed": "!", "undelivered": "!", "cancelled": "–"}

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["media_shape"] = media_shape  # the page draws media as the route serves it


def when(moment: datetime | None) -> str:
    """A time as an advisor reads it: the hour today, else the day and hour (Bogotá time)."""
    if moment is None:
        return ""
    local = moment.astimezone(SHOWN_TIMEZONE)
    today = datetime.now(UTC).astimezone(SHOWN_TIMEZONE).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


def localized(written: str, language: str) -> str:
    """A number written the English way (1,234.5), as the page's language writes it (1.234,5)."""
    return written.translate(str.maketrans(",.", ".,")) if language == "es" else written


def number(value: float | int, digits: int, language: str) -> str:
    """A number as the page's language writes it: 1.234,5 in Spanish, 1,234.5 in English."""
    return localized(f"{value:,.{digits}f}", language)


def minutes(value: float, language: str) -> str:
    """A duration given in minutes, the language's way: "1,4 min", "2 h 5 min"."""
    if value < 60:
        return f"{number(value, 1 if value < 10 else 0, language)} min"
    hours, rest = divmod(round(value), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def ticks(status: str) -> str:
    """WhatsApp-like delivery marks; pending and queued show a circle."""
    return _TICKS.get(status, "○")


def _media_origin(request: Request) -> str | None:
    runtime = getattr(request.state, "runtime", None)
    return runtime.settings.console_media_origin if runtime is not None else None


def render(
    request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page (or the element of it an htmx request selects) in the viewer's language."""
    language = viewer.language if viewer else language_of(request)

    def static(path: str) -> str:
        return str(request.url_for("console_static", path=path))

    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "lang": language,
            "t": lambda key: text(key, language),
            "when": when,
            "ticks": ticks,
            "number": lambda value, digits=0: number(value, digits, language),
            "minutes": lambda value: minutes(value, language),
            "static": static,
            **context,
        },
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": content_security_policy(_media_origin(request)),
        },
    )
