"""Creating and listing accounts through the API."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import users_repo
from app.core.config import Settings
from app.core.security import hash_password
from app.models import User
from app.schemas import UserCreate


class EmailTaken(Exception):
    pass


def list_all(session: Session) -> list[User]:
    return users_repo.list_users(session)


def create(session: Session, settings: Settings, data: UserCreate) -> User:
    if users_repo.get_by_email(session, data.email) is not None:
        raise EmailTaken()
    user = users_repo.add_user(
        session,
        email=data.email,
        role=data.role,
        name=data.name,
        password_hash=hash_password(data.password, settings.BCRYPT_ROUNDS),
    )
    try:
        session.commit()
    except IntegrityError:  # a concurrent request won the race for this email
        session.rollback()
        raise EmailTaken() from None
    return user
