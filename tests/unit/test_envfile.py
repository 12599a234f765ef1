import pytest

from tr4ctl.config.envfile import secret_problem, with_jwt_secret, with_values
from tr4ctl.plan.masking import masked_settings


def test_secret_replaces_placeholder_line_only():
    example = "ENVIRONMENT=production\nJWT_SECRET_KEY=<generate-with: openssl rand -hex 32>\nX=1\n"
    text = with_jwt_secret(example, "f" * 8 + "0123456789abcdef" * 4)
    assert "JWT_SECRET_KEY=ffffffff0123" in text
    assert "generate" not in text
    assert text.startswith("ENVIRONMENT=production\n") and text.endswith("X=1\n")


def test_secret_appended_when_absent():
    assert with_jwt_secret("A=1\n", "s" * 40).endswith("JWT_SECRET_KEY=" + "s" * 40 + "\n")


@pytest.mark.parametrize("value, problem", [
    (None, "missing"),
    ("", "missing"),
    ("<generate-with: openssl rand -hex 32>", "placeholder"),
    ("change-me-change-me-change-me-change-me", "placeholder"),
    ("a" * 40, "placeholder"),
    ("0123456789abcdef", "shorter than 32"),
])
def test_secret_problems(value, problem):
    assert problem in secret_problem(value)


def test_real_secret_passes():
    import secrets

    assert secret_problem(secrets.token_hex(32)) is None


def test_with_values_updates_in_place_and_appends():
    text = "# comment\nA=1\nTR4CTL_HTTP_PORT=80\n"
    assert with_values(text, {"TR4CTL_HTTP_PORT": "8080", "NEW": "x"}) == \
        "# comment\nA=1\nTR4CTL_HTTP_PORT=8080\nNEW=x\n"


def test_masking_hides_secrets_and_keeps_the_rest():
    shown = masked_settings({"http_port": 80}, {"JWT_SECRET_KEY": "abc", "CORS_ORIGINS": "x"})
    assert shown["JWT_SECRET_KEY"] == "****"
    assert shown["CORS_ORIGINS"] == "x"
    assert shown["TR4CTL_HTTP_PORT"] == 80
