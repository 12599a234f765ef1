"""Password hashing (bcrypt, used directly) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import bcrypt
import jwt

from app.core.config import Settings

JWT_ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return hash_password("dummy-password-for-timing", rounds)


def burn_password_check(password: str, rounds: int) -> None:
    """Spend a real bcrypt check for unknown emails so timing does not reveal which exist."""
    verify_password(password, _dummy_hash(rounds))


def create_access_token(subject: str, settings: Settings) -> tuple[str, int]:
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    now = datetime.now(UTC)
    claims = {"sub": subject, "iat": now, "exp": now + lifetime, "type": "access"}
    token = jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(token: str, settings: Settings) -> str:
    """The token's subject; InvalidToken for anything expired, forged or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
    if claims.get("type") != "access" or not isinstance(claims.get("sub"), str):
        raise InvalidToken("wrong token type")
    return claims["sub"]
