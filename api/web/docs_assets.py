"""The API documentation pages' own assets: Swagger UI and ReDoc served by the API itself, from
the files the ``openapi-ui-bundles`` package ships, so ``/api/v1/schema/swagger`` (and
``/redoc``) render where the browser cannot reach a CDN (Litestar's plugins load them from
cdn.jsdelivr.net and cdn.redoc.ly by default)."""

from __future__ import annotations

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import redoc, swagger_ui

SCHEMA_PATH = "/api/v1/schema"
ASSETS = f"{SCHEMA_PATH}/assets"  # under the schema's public path (no token needed)
FAVICON = f'<link rel="icon" type="image/png" href="{ASSETS}/swagger-ui/favicon-32x32.png">'


def render_plugins() -> list[SwaggerRenderPlugin | RedocRenderPlugin]:
    """Swagger UI at ``<schema>/swagger`` and ReDoc at ``<schema>/redoc``, from :func:`router`."""
    return [
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui/swagger-ui-standalone-preset.js",
            favicon=FAVICON,
        ),
        RedocRenderPlugin(
            path="/redoc",
            js_url=f"{ASSETS}/redoc/redoc.standalone.js",
            google_fonts=False,
            favicon=FAVICON,
        ),
    ]


def routers() -> list[Router]:
    """The static files of both, cached a day by the browser."""
    return [
        create_static_files_router(
            path=f"{ASSETS}/{name}",
            directories=[folder],
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=86_400),
            name=f"docs-assets-{name}",
        )
        for name, folder in (("swagger-ui", swagger_ui.static_path), ("redoc", redoc.static_path))
    ]
