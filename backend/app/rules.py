"""The account and secret rules, in one place for the backend and for tr4ctl.

Standard library only and no `app.*` imports: tr4ctl loads this file by its path (it
cannot import the service it operates), so the CLI refuses exactly what the backend
would. Problems are short phrases without the offending value (it may be a password);
each caller prefixes its own location.
"""

from __future__ import annotations

import re

ROLES = ("admin", "founder")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (or, since bcrypt 5, rejects) anything longer
MAX_EMAIL_CHARS = 254
MAX_NAME_CHARS = 200
ACCOUNT_KEYS = ("email", "role", "name", "password")
REQUIRED_ACCOUNT_KEYS = ("email", "role")

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is not our job.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")

SECRET_KEY = "JWT_SECRET_KEY"
MIN_SECRET_BYTES = 32
# Words that only appear in documentation-style values, never in `openssl rand` output.
PLACEHOLDER_MARKERS = (
    "change",
    "generate",
    "secret",
    "example",
    "placeholder",
    "replace",
    "insecure",
    "password",
    "xxx",
    "<",
    ">",
)
MIN_SECRET_DISTINCT_CHARS = 8

LOGIN_RATE_LIMIT_ATTEMPTS = 5
LOGIN_RATE_LIMIT_WINDOW_SECONDS = 60


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """For an already normalised email."""
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        return "invalid email"
    return None


def password_problem(password: str, email: str | None = None) -> str | None:
    if len(password) < MIN_PASSWORD_CHARS:
        return f"shorter than {MIN_PASSWORD_CHARS} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"longer than {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)"
    if "\x00" in password:
        return "contains a NUL character"
    if email is not None and password.strip().casefold() == email.strip().casefold():
        return "equal to the email"
    return None


def role_problem(role: object) -> str | None:
    return None if role in ROLES else f"must be one of {', '.join(ROLES)}"


def normalise_name(name: str | None) -> str | None:
    """Stripped; blank means no name."""
    return (name.strip() or None) if name else None


def name_problem(name: str) -> str | None:
    if len(name.strip()) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    return None


def secret_problem(value: str | None, name: str = SECRET_KEY) -> str | None:
    """Why a JWT secret is not fit for production, or None. Never quotes the secret.
    name: where the secret came from (the setting, or the file setting naming it)."""
    if not value or not value.strip():
        # Both phrasings the CLI and the backend printed before: scripts may match either.
        return f"{name} is missing (it is not set or is blank)"
    lowered = value.lower()
    marker = next((m for m in PLACEHOLDER_MARKERS if m in lowered), None)
    if marker:
        return f"{name} is a placeholder (contains {marker!r})"
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARS:
        return f"{name} is a placeholder (too few distinct characters)"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"{name} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def seed_entry_problem(entry: object) -> tuple[str, str] | None:
    """The first rule one seed account entry breaks, as (field, problem), or None.

    field is "" when the entry as a whole is wrong; its problem then reads after the
    entry's name ("... has no role"). Optional fields may be null, meaning absent (a
    missing password keeps the stored one).
    """
    if not isinstance(entry, dict):
        return "", "is not an object"
    unknown = sorted(str(key) for key in set(entry) - set(ACCOUNT_KEYS))
    if unknown:
        return "", f"has unknown field(s) {', '.join(unknown)}"
    for key in REQUIRED_ACCOUNT_KEYS:
        if key not in entry:
            return "", f"has no {key}"
    for key in ACCOUNT_KEYS:
        value = entry.get(key)
        if not isinstance(value, str) and (key in REQUIRED_ACCOUNT_KEYS or value is not None):
            return key, "must be a string"
    email = normalise_email(entry["email"])
    name, password = entry.get("name"), entry.get("password")
    checks = (
        ("email", email_problem(email)),
        ("role", role_problem(entry["role"])),
        ("name", name_problem(name) if name is not None else None),
        ("password", password_problem(password, email) if password is not None else None),
    )
    return next(((key, problem) for key, problem in checks if problem), None)


# -- the settings the backend reads (tr4ctl validates .env with these same rules) -------
ENVIRONMENTS = ("development", "production")
# What pydantic accepts for a bool, so tr4ctl refuses exactly what the backend would.
TRUE_WORDS = ("1", "true", "t", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "f", "no", "n", "off")
# (lowest, highest) for the whole-number settings; None: no upper limit.
INTEGER_LIMITS: dict[str, tuple[int, int | None]] = {
    "ACCESS_TOKEN_EXPIRE_MINUTES": (1, 60 * 24 * 30),
    "BCRYPT_ROUNDS": (4, 16),
    "CHROMA_PORT": (1, 65535),
    "LOGIN_RATE_LIMIT_ATTEMPTS": (1, None),
    "LOGIN_RATE_LIMIT_WINDOW_SECONDS": (1, None),
    "WEB_CONCURRENCY": (1, 64),
}
CHROMA_TIMEOUT_MAX_SECONDS = 10.0
_ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+)(?::(\d{1,5}))?$")
MAX_HOST_CHARS = 253
MAX_LABEL_CHARS = 63
MAX_URL_CHARS = 2048
_HOST = re.compile(r"^(?!-)[A-Za-z0-9.-]{1,253}(?<!-)$")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
# Every PostgreSQL URL is served by psycopg 3 (the one driver the image ships): the bare
# `postgresql://` would make SQLAlchemy look for psycopg2.
POSTGRES_DRIVER_SCHEME = "postgresql+psycopg"
# Settings holding a path to a file with the secret instead of the secret itself (Docker
# secrets, mounted under /run/secrets): never in argv, `docker inspect` or the environment.
JWT_SECRET_FILE_KEY = "JWT_SECRET_KEY_FILE"
DATABASE_PASSWORD_FILE_KEY = "DATABASE_PASSWORD_FILE"


def boolean_problem(text: str) -> str | None:
    if text.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return None
    return "must be true or false"


def integer_problem(name: str, text: str) -> str | None:
    try:
        number = int(text.strip())
    except ValueError:
        return "must be a whole number"
    low, high = INTEGER_LIMITS[name]
    if number < low or (high is not None and number > high):
        return f"must be between {low} and {high}" if high is not None else f"must be at least {low}"
    return None


def cors_origins(text: str) -> list[str]:
    """Comma-separated; browsers send Origin without a trailing slash, operators often
    write one."""
    return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]


def host_name_problem(host: str) -> str | None:
    """DNS's limits: a name of at most 253 characters, labels of 1 to 63 (RFC 1035); a
    longer one is accepted by a regex and fails later, in a resolver or a TLS library."""
    if len(host) > MAX_HOST_CHARS:
        return f"its host name is {len(host)} characters, more than DNS's {MAX_HOST_CHARS}"
    for label in host.removesuffix(".").split("."):
        if not label:
            return "its host name has an empty label (two dots in a row)"
        if len(label) > MAX_LABEL_CHARS:
            return (f"its host name has a label of {len(label)} characters, more than DNS's "
                    f"{MAX_LABEL_CHARS}")
    return None


def _port_problem(port: int | None) -> str | None:
    return None if port is None or 0 < port <= 65535 else "its port is not 1-65535"


def cors_origin_problem(origin: str) -> str | None:
    """An origin is scheme://host[:port]; "*" would let every site call the API."""
    if origin == "*":
        return "'*' would allow every site: list the allowed origins"
    match = _ORIGIN.match(origin)
    if not match:
        return f"{origin!r} is not scheme://host[:port] (http or https, no path)"
    problem = host_name_problem(match.group(1)) or _port_problem(
        int(match.group(2)) if match.group(2) else None)
    return f"{origin[:80]!r}: {problem}" if problem else None


def host_problem(text: str) -> str | None:
    if not _HOST.match(text.strip()):
        return "must be a host name"
    return host_name_problem(text.strip())


def database_url_problem(url: str) -> str | None:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        return f"must start with one of {', '.join(s + '://' for s in DATABASE_SCHEMES)}"
    if len(url) > MAX_URL_CHARS:
        return f"is {len(url)} characters, more than {MAX_URL_CHARS}"
    if scheme != "sqlite":
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            return f"is not a URL: {exc}"
        problem = (host_name_problem(host) if host else None) or _port_problem(port)
        if problem:
            return problem
    return None


def database_engine(url: str) -> str:
    """"sqlite" or "postgresql", for an accepted DATABASE_URL."""
    scheme = url.split("://", 1)[0]
    return "sqlite" if scheme == "sqlite" else "postgresql"


def with_database_driver(url: str) -> str:
    """The URL SQLAlchemy is given: `postgresql://` means psycopg 3."""
    scheme, separator, rest = url.partition("://")
    if separator and scheme == "postgresql":
        return f"{POSTGRES_DRIVER_SCHEME}://{rest}"
    return url


def secret_from_file_text(text: str) -> str:
    """A secret file's content as the secret: trailing newlines dropped, exactly as the
    shell's $(< file) does (PostgreSQL's image reads POSTGRES_PASSWORD_FILE that way), so
    one file, written by `echo` or by `printf`, gives the database and the backend the
    same password."""
    return text.rstrip("\n")


def url_password(url: str) -> str | None:
    """The password in scheme://user:password@host, or None."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    userinfo, at, _ = rest.partition("@")
    if not at or "/" in userinfo:
        return None
    _, colon, password = userinfo.partition(":")
    return password if colon and password else None
