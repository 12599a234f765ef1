import pytest

from tr4ctl.config import values
from tr4ctl.config.load import load_config
from tr4ctl.errors import BadInput


def load_settings(env_file, project_name=None):
    return load_config(env_file, options={"TR4CTL_PROJECT_NAME": project_name})


def test_defaults_without_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("TR4CTL_HTTP_PORT", raising=False)
    settings = load_settings(tmp_path / ".env")
    assert settings.project_name == "tr4ction"
    assert (settings.http_port, settings.https_port) == (80, 443)


def test_env_file_values_and_unknown_keys(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("JWT_SECRET_KEY=abc\nCORS_ORIGINS=https://a.example\n"
                        "TR4CTL_HTTP_PORT=8080\nTR4CTL_PROJECT_NAME=stack2\n")
    settings = load_settings(env_file)
    assert settings.http_port == 8080
    assert settings.project_name == "stack2"


def test_environment_beats_env_file_and_option_beats_both(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("TR4CTL_PROJECT_NAME=fromfile\n")
    monkeypatch.setenv("TR4CTL_PROJECT_NAME", "fromenv")
    assert load_settings(env_file).project_name == "fromenv"
    assert load_settings(env_file, project_name="fromflag").project_name == "fromflag"


def test_malformed_line_names_the_line(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\nthis is not an assignment\n")
    with pytest.raises(BadInput, match="line 2"):
        load_settings(env_file)


@pytest.mark.parametrize("line, key", [
    ("TR4CTL_HTTP_PORT=eighty", "TR4CTL_HTTP_PORT"),
    ("TR4CTL_HTTPS_PORT=70000", "TR4CTL_HTTPS_PORT"),
    ("TR4CTL_PROJECT_NAME=Bad Name!", "TR4CTL_PROJECT_NAME"),
    ("TR4CTL_HEALTHCHECK_INTERVAL=soon", "TR4CTL_HEALTHCHECK_INTERVAL"),
    ("TR4CTL_LOG_MAX_SIZE=10mb", "TR4CTL_LOG_MAX_SIZE"),
    ("TR4CTL_LOG_MAX_SIZE=2g", "TR4CTL_LOG_MAX_SIZE"),
    ("TR4CTL_LOG_MAX_FILES=0", "TR4CTL_LOG_MAX_FILES"),
    ("TR4CTL_LOG_MAX_FILES=lots", "TR4CTL_LOG_MAX_FILES"),
])
def test_invalid_values_name_the_key(tmp_path, line, key):
    env_file = tmp_path / ".env"
    env_file.write_text(line + "\n")
    with pytest.raises(BadInput, match=key) as caught:
        load_settings(env_file)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("value", ["10", "0k", "2g", "10mb", "-1m", "1.5m", "m"])
def test_a_log_size_needs_a_number_and_a_unit_within_bounds(value):
    with pytest.raises(ValueError, match="10m"):
        values.log_size(value)
    assert values.log_size("500K") == "500k" and values.log_size("1g") == "1g"
