"""All reads and writes of user rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.lower()))


def get_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.id)))


def add_user(
    session: Session, *, email: str, role: str, name: str | None, password_hash: str
) -> User:
    user = User(email=email.lower(), role=role, name=name, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user
