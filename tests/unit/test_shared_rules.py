"""The CLI and the backend refuse the same accounts and secrets: every case goes through
both real entry points (the CLI's --file parser and .env check, the backend's seed parser
and production settings), which must agree on accept or refuse.
"""

import ast
import json
import sys
import warnings
from pathlib import Path

import pytest

from tr4ctl import rules
from tr4ctl.config.envfile import secret_problem
from tr4ctl.errors import BadInput
from tr4ctl.plan.accounts import parse_accounts_file, password_problem

# As in tests/backend/conftest.py: importing backend_helpers puts backend/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))
# It imports starlette's TestClient, whose httpx notice is noise here (as there).
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from backend_helpers import GOOD_SECRET  # noqa: I001

import app.rules
from app.core.config import ConfigError, Settings, load_settings
from app.services.seeding import SeedInputError, parse_seed_input

EMAIL = "ops@example.test"
PASSWORD = "correct horse battery staple"


def cli_seed(entry: object) -> tuple[bool, object]:
    """(accepted, the normalised account or the message)."""
    try:
        account = parse_accounts_file(json.dumps([entry]), "accounts.json")[0]
    except BadInput as refusal:
        return False, f"{refusal.message} {refusal.hint or ''}"
    return True, (account.email, account.role, account.name, account.password)


def backend_seed(entry: object) -> tuple[bool, object]:
    try:
        account = parse_seed_input(json.dumps({"accounts": [entry]}))[0]
    except SeedInputError as refusal:
        return False, str(refusal)
    return True, (account.email, account.role, account.name, account.password)


def assert_agree(entry: object, accepted: bool) -> tuple[object, object]:
    (cli_ok, cli_said), (backend_ok, backend_said) = cli_seed(entry), backend_seed(entry)
    assert (cli_ok, backend_ok) == (accepted, accepted), (cli_said, backend_said)
    if accepted:  # the same account is stored as the CLI planned
        assert cli_said == backend_said
    return cli_said, backend_said


def account(**fields) -> dict:
    return {"email": EMAIL, "role": "admin", **fields}


@pytest.mark.parametrize("email, accepted", [
    (EMAIL, True),
    (" Ops@Example.TEST\n", True),
    ("a.b+tag@sub.example.test", True),
    (("x" * 64) + "@x.test", True),
    ("not-an-email", False),
    ("a@b", False),
    ("a b@x.test", False),
    ("a@@x.test", False),
    ("@x.test", False),
    ("a@x.", False),
    ("", False),
    ("   ", False),
    (("x" * 65) + "@x.test", False),
    ("a@" + "d" * 250 + ".test", False),
])
def test_emails(email, accepted):
    assert_agree({"email": email, "role": "admin"}, accepted)


@pytest.mark.parametrize("password, accepted", [
    ("x" * 12, True),
    ("é" * 36, True),  # 72 bytes
    (PASSWORD, True),
    ("other@example.test", True),  # an email, but not this account's
    ("x" * 11, False),
    ("é" * 37, False),  # 74 bytes
    ("x" * 73, False),
    ("twelve chars\x00", False),
    ("Ops@Example.test", False),
    ("  ops@example.test ", False),
    ("", False),
])
def test_passwords(password, accepted):
    said = assert_agree(account(password=password), accepted)
    if not accepted and password.strip():
        assert all(password.strip() not in message.replace(EMAIL, "") for message in said)


@pytest.mark.parametrize("password", ["x" * 11, "x" * 12, "é" * 37, "twelve chars\x00", EMAIL])
def test_passwords_without_an_email(password):
    assert password_problem(password) == app.rules.password_problem(password)


@pytest.mark.parametrize("role, accepted", [
    ("admin", True), ("founder", True),
    ("owner", False), ("Admin", False), ("", False), (5, False), (None, False),
    (["admin"], False),
])
def test_roles(role, accepted):
    assert_agree(account(role=role), accepted)


@pytest.mark.parametrize("name, accepted", [
    (None, True), ("Ada", True), ("  Ada ", True), ("", True), ("   ", True),
    ("n" * 200, True), ("  " + "n" * 200 + "  ", True),
    ("n" * 201, False), (5, False), (["Ada"], False),
])
def test_names(name, accepted):
    assert_agree(account(name=name), accepted)


@pytest.mark.parametrize("entry, accepted", [
    (account(), True),
    (account(name="Ada", password=PASSWORD), True),
    (account(password=None), True),  # null: keep the stored password
    (account(pasword=PASSWORD), False),
    (account(extra=1), False),
    ({"role": "admin"}, False),
    ({"email": EMAIL}, False),
    ({}, False),
    ({"email": None, "role": "admin"}, False),
    ({"email": 5, "role": "admin"}, False),
    (account(password=123456789012345), False),
    (account(password=["a long secret passphrase"]), False),
    ("ops@example.test", False),
    ([EMAIL, "admin"], False),
    (None, False),
])
def test_whole_entries(entry, accepted):
    assert_agree(entry, accepted)


@pytest.fixture
def production(monkeypatch):
    """Settings from overrides only: the developer's shell must not decide the verdict."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)

    def load(secret: str | None) -> str | None:
        try:
            load_settings(ENVIRONMENT="production", JWT_SECRET_KEY=secret)
        except ConfigError as refusal:
            return str(refusal)
        return None

    return load


@pytest.mark.parametrize("secret, accepted", [
    (GOOD_SECRET, True),
    ("0123456789abcdef" * 2, True),  # exactly 32 bytes
    ("q8Zr3kPw1xV7nT2mq8Zr3kPw1xV7nT2m", True),
    (None, False),
    ("", False),
    ("   ", False),
    ("<generate-with: openssl rand -hex 32>", False),
    ("change-me-please-change-me-please-change-me", False),
    ("super-secret-jwt-key-for-production-use-1234", False),
    ("an-example-key-which-is-long-enough-1234567", False),
    ("x" + GOOD_SECRET.upper() + "XXX", False),  # markers are case-insensitive
    ("a" * 64, False),
    ("ab" * 32, False),
    ("q8Zr3kPw1xV7nT2m", False),
    (("0123456789abcdef" * 2)[:31], False),
])
def test_secrets(production, secret, accepted):
    cli_problem, backend_refusal = secret_problem(secret), production(secret)
    assert (cli_problem is None, backend_refusal is None) == (accepted, accepted)
    if not accepted:
        assert cli_problem in backend_refusal  # the same words on both sides
        if secret and secret.strip():
            assert secret not in cli_problem and secret not in backend_refusal


def test_the_cli_runs_the_backends_own_file():
    assert Path(rules.seed_entry_problem.__code__.co_filename) == Path(app.rules.__file__)
    assert rules.ACCOUNT_KEYS == app.rules.ACCOUNT_KEYS


def test_login_rate_limit_defaults_are_the_backends():
    fields = Settings.model_fields
    assert fields["LOGIN_RATE_LIMIT_ATTEMPTS"].default == rules.LOGIN_RATE_LIMIT_ATTEMPTS
    assert (fields["LOGIN_RATE_LIMIT_WINDOW_SECONDS"].default
            == rules.LOGIN_RATE_LIMIT_WINDOW_SECONDS)


def test_the_rules_import_only_the_standard_library():
    tree = ast.parse(Path(app.rules.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
