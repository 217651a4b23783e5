"""Owns `GET /media/{name}`: the voice replies Twilio fetches from us (local media backend)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from bot.twilio.media_hosting import media_link_valid
from bot.web.runtime import WebRuntime


async def media_file(request: Request) -> Response:
    """Serve a local media file to Twilio; a tampered, expired or unknown link is a 404."""
    runtime: WebRuntime = request.state.runtime
    name = request.path_params["name"]
    valid = media_link_valid(
        name,
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
        key=runtime.media_key,
    )
    path = runtime.settings.media_dir / name
    if not valid or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, media_type="audio/ogg" if name.endswith(".ogg") else None)
