"""Composition root: every domain's routes, the middleware and the error handlers."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, get
from litestar.config.cors import CORSConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.accounts.routes import routers as accounts_routers
from api.activities.routes import routers as activities_routers
from api.auth.middleware import PUBLIC_PATHS, BearerAuthMiddleware, request_id_middleware
from api.auth.routes import routers as auth_routers
from api.call_logs.routes import routers as call_logs_routers
from api.contacts.routes import routers as contacts_routers
from api.custom.routes import routers as custom_routers
from api.deals.routes import routers as deals_routers
from api.dispatcher import wake
from api.dispatcher.routes import routers as dispatcher_routers
from api.events.routes import routers as events_routers
from api.imports.routes import routers as imports_routers
from api.leads.routes import routers as leads_routers
from api.notifications.routes import routers as notifications_routers
from api.oauth import ratelimit
from api.oauth.routes import routers as oauth_routers
from api.realtime.routes import routers as realtime_routers
from api.reports.routes import routers as reports_routers
from api.tasks.routes import routers as tasks_routers
from api.web import access_log, docs_assets
from api.web.errors import exception_handlers
from api.webhooks.routes import routers as webhooks_routers
from leadly.settings import get_settings

ROUTERS: list[Any] = [
    *auth_routers,
    *leads_routers,
    *contacts_routers,
    *accounts_routers,
    *call_logs_routers,
    *dispatcher_routers,
    *imports_routers,
    *activities_routers,
    *deals_routers,
    *notifications_routers,
    *realtime_routers,
    *tasks_routers,
    *webhooks_routers,
    *events_routers,
    *custom_routers,
    *reports_routers,
    *oauth_routers,
]


@get("/api/v1/health", tags=["system"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _dispose_engine(app: Litestar) -> None:
    from warehouse.db import dispose_engines

    await dispose_engines()


def create_app() -> Litestar:
    settings = get_settings()
    wake.install()  # the dispatcher hears of each commit that appended events
    access_log.install()  # feed tokens and socket tickets stay out of the access log
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    limits = ratelimit.RateLimits()
    return Litestar(
        route_handlers=[health, *ROUTERS, *docs_assets.routers()],
        middleware=[
            request_id_middleware,
            DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS),
            limits.middleware,  # inside: it counts per caller
        ],
        exception_handlers=exception_handlers,
        before_send=[limits.before_send],  # answers given before the middleware: per address
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(
            allow_origins=["*"], expose_headers=["ETag", "X-Request-ID", *ratelimit.HEADERS]
        ),
        openapi_config=OpenAPIConfig(
            title="Leadly API",
            version="1.0.0",
            path=docs_assets.SCHEMA_PATH,
            render_plugins=docs_assets.render_plugins(),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="Session token or API key"
                    ),
                }
            ),
            security=[{"bearer": []}],
        ),
        on_shutdown=[_dispose_engine],
        debug=False,
    )


app = create_app
