"""Owns `/docs`: the API's Swagger UI, served from the app itself so it works without internet.

FastAPI's default page loads Swagger UI from a CDN: blank on a network without internet, and a
third party told of every visit. The assets come from the `swagger-ui-bundle` package instead.
"""

from __future__ import annotations

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def docs_assets() -> StaticFiles:
    """The Swagger UI files, to mount at ASSETS_PATH."""
    return StaticFiles(directory=str(swagger_ui_path))


async def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page for `/openapi.json`, every asset from this server."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="advisor-bot API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )
