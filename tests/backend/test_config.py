import json
from pathlib import Path

import pytest
from app.core.config import APP_ROOT, ConfigError, Settings, load_settings
from backend_helpers import GOOD_SECRET


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("<generate-with: openssl rand -hex 32>", "placeholder"),
        ("change-me-please-change-me-please-change-me", "placeholder"),
        ("super-secret-jwt-key-for-production-use-1234", "placeholder"),
        ("an-example-key-which-is-long-enough-1234567", "placeholder"),
        ("a" * 64, "placeholder"),
        ("ab" * 32, "placeholder"),
        ("q8Zr3kPw1xV7nT2m", "shorter than 32 bytes"),
    ],
)
def test_production_refuses_bad_jwt_secret(secret, reason, monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    if secret is not None:
        monkeypatch.setenv("JWT_SECRET_KEY", secret)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message
    if secret:
        assert secret not in message


def test_production_accepts_a_generated_secret(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_SECRET)
    assert load_settings().jwt_secret == GOOD_SECRET


def test_development_without_secret_uses_a_random_one(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    settings = load_settings()
    assert settings.jwt_secret_is_ephemeral
    assert len(settings.jwt_secret) == 64 and settings.jwt_secret == settings.jwt_secret


def test_defaults_derive_every_path_from_data_dir(monkeypatch):
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_SECRET)
    settings = load_settings()
    assert settings.ENVIRONMENT == "production"
    assert settings.DATA_DIR == Path("/app/data")
    assert settings.TEMPLATES_IMAGES_DIR == Path("/app/data/templates_images")
    assert settings.KNOWLEDGE_DIR == Path("/app/data/knowledge")
    assert settings.UPLOADS_DIR == Path("/app/data/uploads")
    assert settings.DATABASE_URL == "sqlite:////app/data/tr4ction.db"
    assert settings.LOG_DIR == Path("/app/logs")
    assert (settings.CHROMA_HOST, settings.CHROMA_PORT) == ("chroma", 8000)
    assert settings.chroma_heartbeat_url == "http://chroma:8000/api/v2/heartbeat"


def test_data_dir_moves_the_derived_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.TEMPLATES_IMAGES_DIR == tmp_path / "templates_images"
    assert settings.DATABASE_URL == f"sqlite:///{tmp_path / 'tr4ction.db'}"


def test_operators_old_relative_database_url_is_accepted(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///./data/tr4ction.db")
    # In the image APP_ROOT is /app: the same file as the default.
    assert load_settings().DATABASE_URL == f"sqlite:///{APP_ROOT / 'data' / 'tr4ction.db'}"


def test_unknown_env_vars_and_cli_keys_are_ignored(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("TR4CTL_DOMAIN", "api.tr4ction.test")
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    assert load_settings().ENVIRONMENT == "development"


def test_dotenv_file_with_cli_keys_is_accepted(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ENVIRONMENT=development\nTR4CTL_DOMAIN=api.tr4ction.test\n"
        "CORS_ORIGINS=https://a.test,https://b.test\n"
    )
    settings = Settings(_env_file=env_file)
    assert settings.CORS_ORIGINS == ["https://a.test", "https://b.test"]


def test_invalid_values_give_one_line(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("CHROMA_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "ENVIRONMENT" in str(caught.value) and "CHROMA_PORT" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_check_config_command(manage, settings_env):
    ok = manage("check-config")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["jwt_secret"] == "set"
    assert GOOD_SECRET not in ok.stdout

    from backend_helpers import run_manage

    bad = run_manage(
        {**settings_env, "ENVIRONMENT": "production", "JWT_SECRET_KEY": "changeme"}, "check-config"
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "JWT_SECRET_KEY" in json.loads(lines[0])["error"]
