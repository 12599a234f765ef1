"""Secrets as files (JWT_SECRET_KEY_FILE, DATABASE_PASSWORD_FILE), and the database
password kept out of every message, log line and output."""

import json
import signal

import pytest
from app.core.config import ConfigError, load_settings
from app.main import create_app
from backend_helpers import GOOD_SECRET, run_manage, start_gunicorn, wait_for_health
from fastapi.testclient import TestClient

OTHER_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9f2c4e7a1b3d5f60718293a4b5c6d7e8f9"


def write(path, text: str):
    path.write_text(text)
    return path


def test_jwt_secret_from_a_file_wins_over_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", OTHER_SECRET)
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", str(write(tmp_path / "jwt", GOOD_SECRET + "\n")))
    settings = load_settings()
    assert settings.jwt_secret == GOOD_SECRET  # its newline dropped
    assert GOOD_SECRET not in repr(settings)


def test_jwt_secret_file_alone_is_enough_in_production(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", str(write(tmp_path / "jwt", GOOD_SECRET)))
    assert load_settings().jwt_secret == GOOD_SECRET


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("change-me-please-change-me-please-change-me", "placeholder"),
        ("q8Zr3kPw1xV7nT2m", "shorter than 32 bytes"),
        ("   \n", "is empty"),
    ],
)
def test_production_rule_applies_to_the_file_content(monkeypatch, tmp_path, content, reason):
    monkeypatch.setenv("ENVIRONMENT", "production")
    # A good variable does not rescue a bad file: the file is what would be used.
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", str(write(tmp_path / "jwt", content)))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert reason in message and "JWT_SECRET_KEY_FILE" in message
    if content.strip():
        assert content.strip() not in message
    assert "\n" not in message


def test_unreadable_secret_files_are_named_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"invalid configuration: JWT_SECRET_KEY_FILE: cannot read {tmp_path / 'missing'} "
        "(No such file or directory)"
    )


def test_blank_file_settings_mean_unset(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", "")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", " ")
    settings = load_settings()
    assert settings.JWT_SECRET_KEY_FILE is None and settings.DATABASE_PASSWORD_FILE is None


def test_database_password_file_gives_the_url_its_password(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql://tr4ction:in-the-url@postgres:5432/tr4ction")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(write(tmp_path / "pw", "from file\n")))
    settings = load_settings()
    # postgresql:// means psycopg 3, the driver the image ships.
    assert settings.DATABASE_URL.startswith("postgresql+psycopg://")
    assert settings.database_url.password == "from file"  # the file wins over the URL
    for shown in (str(settings.database_url), repr(settings.database_url),
                  settings.database_url_shown, repr(settings)):
        assert "from file" not in shown and "in-the-url" not in shown
    assert settings.database_engine == "postgresql"


def test_missing_database_password_file_stops_a_postgresql_start(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://tr4ction@postgres:5432/tr4ction")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", "/run/secrets/nowhere")
    with pytest.raises(ConfigError, match=r"DATABASE_PASSWORD_FILE: cannot read /run/secrets/"):
        load_settings()


def test_sqlite_ignores_a_database_password_file(monkeypatch, tmp_path):
    # Switching back to SQLite with the secret still configured must not stop the service.
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", "/run/secrets/nowhere")
    assert load_settings().database_url.password is None


def test_check_config_masks_a_password_written_in_the_url(settings_env):
    env = {**settings_env,
           "DATABASE_URL": "postgresql://tr4ction:hunter2-hunter2@db.internal:5432/tr4ction"}
    result = run_manage(env, "check-config")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["database_url"] == "postgresql+psycopg://tr4ction:***@db.internal:5432/tr4ction"
    assert report["database_engine"] == "postgresql"
    assert "hunter2" not in result.stdout + result.stderr


@pytest.fixture
def wrong_password_env(postgres_server, make_postgres_env, tmp_path):
    env = make_postgres_env()
    wrong = "wrong-" + postgres_server.role_password[::-1]
    env["DATABASE_PASSWORD_FILE"] = str(write(tmp_path / "wrong_password", wrong + "\n"))
    return env, wrong


def settings_with(settings_env: dict, env: dict) -> dict:
    return {**settings_env, **env}


def test_a_wrong_password_is_reported_without_any_password(
    settings_env, wrong_password_env, postgres_server
):
    env, wrong = wrong_password_env
    result = run_manage(settings_with(settings_env, env), "migrate")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    error = json.loads(lines[0])["error"]
    assert "password authentication failed" in error
    for secret in (wrong, postgres_server.role_password):
        assert secret not in result.stdout + result.stderr


def test_gunicorn_with_a_wrong_password_stops_with_one_line_and_no_password(
    settings_env, wrong_password_env, postgres_server, closed_port
):
    env, wrong = wrong_password_env
    proc = start_gunicorn(settings_with(settings_env, env), closed_port)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    fatal = [json.loads(line) for line in (stdout + stderr).splitlines()
             if line.startswith("{") and json.loads(line)["level"] == "CRITICAL"]
    assert len(fatal) == 1
    assert "database migration failed" in fatal[0]["msg"]
    assert "password authentication failed" in fatal[0]["msg"]
    for secret in (wrong, postgres_server.role_password):
        assert secret not in stdout + stderr


def test_ready_with_a_wrong_password_names_the_database_not_the_password(
    settings_env, wrong_password_env, postgres_server, tmp_path
):
    env, wrong = wrong_password_env
    settings = load_settings(**settings_with(settings_env, env))
    with TestClient(create_app(settings)) as client:  # the master would have migrated
        response = client.get("/ready")
    check = response.json()["checks"]["database"]
    assert response.status_code == 503 and check["ok"] is False
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    assert check["reason"] == (
        f"postgresql at 127.0.0.1:{postgres_server.port}/{database}: "
        "query failed: OperationalError"
    )
    logged = "".join(path.read_text() for path in (tmp_path / "logs").glob("*.log"))
    for secret in (wrong, postgres_server.role_password):
        assert secret not in response.text + logged


def test_a_served_postgresql_backend_never_prints_its_password(
    settings_env, make_postgres_env, postgres_server, closed_port
):
    proc = start_gunicorn(settings_with(settings_env, make_postgres_env()), closed_port)
    try:
        wait_for_health(closed_port, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Running upgrade" in stdout
    assert postgres_server.role_password not in stdout + stderr
