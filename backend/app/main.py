"""The application factory. gunicorn calls `app.main:create_app()` in each worker."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.errors import install_error_handlers
from app.api.routes import auth, health, templates, users, version
from app.core.config import Settings, load_settings
from app.core.logging import configure_logging
from app.db import Database
from app.middleware.cors import CORSMiddleware
from app.middleware.request_log import RequestLogMiddleware
from app.services.rate_limit import LoginRateLimiter
from app.startup import prepare_runtime

log = logging.getLogger("app")


def create_app(settings: Settings | None = None, *, apply_migrations: bool = False) -> FastAPI:
    """Build the app. Migrations are the caller's job (gunicorn's master does them once)
    unless apply_migrations is set, as tests and single-process runs do."""
    settings = settings or load_settings()
    configure_logging(settings)
    if settings.is_development and settings.jwt_secret_is_ephemeral:
        log.warning("JWT_SECRET_KEY not set: using a random per-process key (development only)")
    if apply_migrations:
        prepare_runtime(settings)

    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        db.dispose()

    docs = settings.is_development
    app = FastAPI(
        title="TR4CTION backend",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.login_limiter = LoginRateLimiter(
        db.engine, settings.LOGIN_RATE_LIMIT_ATTEMPTS, settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    )
    install_error_handlers(app)
    # First in the route table and not behind an included router: the cheapest match.
    app.add_api_route("/health", health.health, methods=["GET"], tags=["health"])
    for module in (health, version, auth, users, templates):
        app.include_router(module.router)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    # Added last = outermost: every response, CORS refusals included, is logged.
    app.add_middleware(RequestLogMiddleware)
    return app
