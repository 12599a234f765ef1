"""Dependencies shared by the routes: settings, database session, current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app import users_repo
from app.core.config import Settings
from app.core.security import InvalidToken, decode_access_token
from app.db import Database
from app.models import User
from app.services.rate_limit import LoginRateLimiter


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with db.session() as session:
        yield session


def get_login_limiter(request: Request) -> LoginRateLimiter:
    return request.app.state.login_limiter


def client_ip(request: Request) -> str:
    # Trusting proxy headers is safe only because port 8000 is never published: every
    # request comes through our nginx, which overwrites X-Real-IP with the peer address
    # and appends the peer to X-Forwarded-For (so only its last entry is trustworthy).
    real_ip = request.headers.get("x-real-ip", "").strip()
    if real_ip:
        return real_ip[:64]
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64]
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]
LimiterDep = Annotated[LoginRateLimiter, Depends(get_login_limiter)]
ClientIpDep = Annotated[str, Depends(client_ip)]

_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise _unauthorized("not authenticated")
    try:
        subject = decode_access_token(credentials.credentials, settings)
        user = users_repo.get_by_id(session, int(subject))
    except (InvalidToken, ValueError):
        user = None
    if user is None:
        raise _unauthorized("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
