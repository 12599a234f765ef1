"""Login: rate limit, credential check, token issue."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import users_repo
from app.core.config import Settings
from app.core.security import burn_password_check, create_access_token, verify_password
from app.models import User
from app.services.rate_limit import LoginRateLimiter


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


class BadCredentials(Exception):
    pass


def authenticate(session: Session, email: str, password: str, settings: Settings) -> User | None:
    user = users_repo.get_by_email(session, email)
    if user is None:
        burn_password_check(password, settings.BCRYPT_ROUNDS)
        return None
    return user if verify_password(password, user.password_hash) else None


def login(
    session: Session,
    settings: Settings,
    limiter: LoginRateLimiter,
    *,
    client_ip: str,
    email: str,
    password: str,
) -> tuple[str, int]:
    """An access token and its lifetime in seconds, or LoginThrottled / BadCredentials."""
    key = (client_ip, email.lower())
    retry_after = limiter.retry_after(key)
    if retry_after is not None:
        raise LoginThrottled(retry_after)
    user = authenticate(session, email, password, settings)
    if user is None:
        limiter.record_failure(key)
        raise BadCredentials()
    limiter.reset(key)
    return create_access_token(str(user.id), settings)
