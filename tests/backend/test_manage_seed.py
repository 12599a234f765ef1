import json

import pytest
from backend_helpers import PASSWORD, login, query, seed_via_subprocess

pytestmark = pytest.mark.each_database

ADMIN = {"email": "Ops@TR4CTION.test", "role": "admin", "name": "Ops", "password": PASSWORD}
FOUNDER = {"email": "founder@tr4ction.test", "role": "founder", "password": "another long password"}


def db_rows(settings_env) -> list[tuple]:
    return query(
        settings_env,
        "SELECT email, name, role, password_hash, created_at, updated_at FROM users ORDER BY id",
    )


def test_seed_twice_gives_same_rows(settings_env):
    first = seed_via_subprocess(settings_env, ADMIN, FOUNDER)
    assert first == {
        "created": ["ops@tr4ction.test", "founder@tr4ction.test"],
        "updated": [],
        "unchanged": [],
    }
    rows = db_rows(settings_env)
    assert [r[0] for r in rows] == ["ops@tr4ction.test", "founder@tr4ction.test"]

    second = seed_via_subprocess(settings_env, ADMIN, FOUNDER)
    assert second == {
        "created": [],
        "updated": [],
        "unchanged": ["ops@tr4ction.test", "founder@tr4ction.test"],
    }
    assert db_rows(settings_env) == rows


def test_seed_does_not_change_existing_password_without_reset(seed, make_client):
    seed(ADMIN)
    again = seed({**ADMIN, "password": "a brand new password"})
    assert again["unchanged"] == ["ops@tr4ction.test"]
    client = make_client()
    assert login(client, ADMIN["email"], PASSWORD).status_code == 200


def test_seed_reset_password_updates(seed, make_client):
    seed(ADMIN, FOUNDER)
    result = seed({**ADMIN, "password": "a brand new password"}, reset_password=True)
    assert result == {"created": [], "updated": ["ops@tr4ction.test"], "unchanged": []}
    client = make_client()
    assert login(client, ADMIN["email"], PASSWORD).status_code == 401
    assert login(client, ADMIN["email"], "a brand new password").status_code == 200


def test_seed_updates_role_and_name_changes(seed, settings_env):
    seed(FOUNDER)
    result = seed({**FOUNDER, "role": "admin", "name": "Now Admin"})
    assert result["updated"] == ["founder@tr4ction.test"]
    assert db_rows(settings_env)[0][1:3] == ("Now Admin", "admin")


def test_seed_output_has_no_secret(settings_env, manage):
    result = manage("seed", stdin=json.dumps({"accounts": [ADMIN]}))
    assert PASSWORD not in result.stdout + result.stderr
    assert "$2b$" not in result.stdout + result.stderr


BAD_SEED_INPUTS = [
    ("{not json", "malformed JSON"),
    ('["accounts"]', "expected an object"),
    (json.dumps({"accounts": [{**ADMIN, "role": "owner"}]}), "role"),
    (json.dumps({"accounts": [{**ADMIN, "email": "not-an-email"}]}), "invalid email"),
    (
        json.dumps({"accounts": [ADMIN, {**FOUNDER, "email": "OPS@tr4ction.test"}]}),
        "duplicate email",
    ),
    (json.dumps({"accounts": [{k: v for k, v in ADMIN.items() if k != "password"}]}), "password"),
    (
        json.dumps({"accounts": [ADMIN, {**FOUNDER, "password": "short"}]}),
        "shorter than 12 characters",
    ),
    (
        json.dumps({"accounts": [{**ADMIN, "password": "OPS@tr4ction.test"}]}),
        "equal to the email",
    ),
    (json.dumps({"accounts": [{**ADMIN, "password": 123456789012345}]}), "password"),
    (json.dumps({"accounts": [{**ADMIN, "pasword": "typo"}]}), "unknown field"),
    (b"\xff\xfe{not utf-8", "malformed JSON"),
]


def assert_refused(returncode: int, stdout: str, stderr: str, fragment: str) -> None:
    assert returncode == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    error = json.loads(lines[0])["error"]
    assert fragment in error
    assert PASSWORD not in error


@pytest.mark.parametrize(("payload", "fragment"), [BAD_SEED_INPUTS[i] for i in (0, 2, 4, 6)])
def test_seed_bad_input_exits_2_with_nothing_written(settings_env, manage, payload, fragment):
    result = manage("seed", stdin=payload)
    assert_refused(result.returncode, result.stdout, result.stderr, fragment)
    assert db_rows(settings_env) == []


@pytest.mark.parametrize(("payload", "fragment"), BAD_SEED_INPUTS)
def test_seed_rejects_every_bad_input(settings_env, run_manage_inprocess, payload, fragment):
    # The same entry point in-process, for the whole list.
    assert_refused(*run_manage_inprocess("seed", stdin=payload), fragment)
    assert db_rows(settings_env) == []


def test_seed_bad_input_leaves_existing_rows_alone(seed, settings_env, manage):
    seed(ADMIN)
    before = db_rows(settings_env)
    result = manage(
        "seed",
        "--reset-password",
        stdin=json.dumps(
            {
                "accounts": [
                    {**ADMIN, "password": "a brand new password"},
                    {**FOUNDER, "role": "owner"},
                ]
            }
        ),
    )
    assert result.returncode == 2
    assert db_rows(settings_env) == before


def test_list_users_prints_accounts_without_hashes(seed, manage):
    seed(ADMIN, FOUNDER)
    result = manage("list-users")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(u["email"], u["name"], u["role"]) for u in listed] == [
        ("ops@tr4ction.test", "Ops", "admin"),
        ("founder@tr4ction.test", None, "founder"),
    ]
    assert all(u.keys() == {"email", "name", "role", "created_at"} for u in listed)
    assert "$2b$" not in result.stdout


def test_existing_account_may_come_without_a_password(seed, settings_env, make_client):
    seed(ADMIN)
    rows = db_rows(settings_env)
    without = {key: value for key, value in ADMIN.items() if key != "password"}
    assert seed(without) == {"created": [], "updated": [], "unchanged": ["ops@tr4ction.test"]}
    assert db_rows(settings_env) == rows
    assert login(make_client(), ADMIN["email"], PASSWORD).status_code == 200


@pytest.mark.parametrize("reset", [False, True])
def test_missing_password_to_create_or_reset_writes_nothing(settings_env, manage, seed, reset):
    seed(FOUNDER)
    rows = db_rows(settings_env)
    new_account = {"email": "new@tr4ction.test", "role": "admin"}
    existing = {key: value for key, value in FOUNDER.items() if key != "password"}
    accounts = [existing] if reset else [FOUNDER, new_account]
    args = ["seed", "--reset-password"] if reset else ["seed"]
    result = manage(*args, stdin=json.dumps({"accounts": accounts}))
    assert result.returncode == 2
    assert "a password is needed to " + ("reset" if reset else "create") in result.stderr
    assert db_rows(settings_env) == rows
