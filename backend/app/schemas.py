"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.rules import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    MAX_PASSWORD_BYTES,
    ROLES,
    email_problem,
    normalise_email,
    password_problem,
)

# Literal[("a", "b")] is Literal["a", "b"]: the roles stay defined once, in app.rules.
Role = Literal[ROLES]


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=MAX_EMAIL_CHARS)
    password: str = Field(min_length=1, max_length=4 * MAX_PASSWORD_BYTES)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("password")
    @classmethod
    def _fits_bcrypt(cls, value: str) -> str:
        # The other password rules are for new passwords; bcrypt's limit binds every check.
        if len(value.encode()) > MAX_PASSWORD_BYTES:
            raise ValueError(f"longer than {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)")
        return value


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    name: str | None
    role: Role
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=MAX_EMAIL_CHARS)
    password: str = Field(max_length=4 * MAX_PASSWORD_BYTES)
    role: Role
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        value = normalise_email(value)
        problem = email_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _strong_password(self) -> UserCreate:
        problem = password_problem(self.password, self.email)
        if problem:
            raise ValueError(f"password {problem}")
        return self


class TemplateImage(BaseModel):
    name: str
    path: str
    size_bytes: int


class TemplateList(BaseModel):
    templates: list[TemplateImage]
