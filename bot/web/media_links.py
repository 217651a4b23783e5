"""Owns `GET /media/{name}`: the voice replies Twilio fetches from us (database or local backend)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from bot.twilio.media_hosting import media_link_valid
from bot.web.runtime import WebRuntime
from memory.records.media_files import read_media


async def media_file(request: Request) -> Response:
    """Serve a published media file to Twilio; a tampered, expired or unknown link is a 404."""
    runtime: WebRuntime = request.state.runtime
    name = request.path_params["name"]
    valid = media_link_valid(
        name,
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
        key=runtime.media_key,
    )
    if not valid:
        return _not_found()
    if runtime.settings.media_backend == "database":
        async with runtime.pool.connection() as conn:
            found = await read_media(conn=conn, name=name)
        if found is None:
            return _not_found()
        content_type, data = found
        return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})
    path = runtime.settings.media_dir / name
    if not path.is_file():
        return _not_found()
    return FileResponse(path, media_type="audio/ogg" if name.endswith(".ogg") else None)


def _not_found() -> Response:
    return JSONResponse({"detail": "not found"}, status_code=404)
