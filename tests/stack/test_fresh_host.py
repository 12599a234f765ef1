"""README command 1 on a fresh Debian 13 (trixie) system: a container made from Debian's
packages (mmdebstrap minbase: no Python, no Docker, no curl), with an engine of its own
started by the scripts (../shared/docs/docker-here.md §5: dockerd in a container).

Slow: it installs the engine and tr4ctl, then builds every image inside the container.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from conftest import TEST_PREFIX, docker

# Runs beside the other tests (scripts/test.sh), as it never touches the host's stacks:
# its engine is the fresh host's, in a container of the test's own.
pytestmark = [pytest.mark.own_engine]

REPO = Path(__file__).resolve().parents[2]
IMAGE = "tr4ctl-test/fresh-host:trixie"
RECIPE_LABEL = "io.tr4ctl.test-recipe"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Where the host's CAs go in the image: the scripts' ca-certificates install adds them to
# the system bundle, as an operator's own CA would be.
CA_IN_IMAGE = "/usr/local/share/ca-certificates/tr4ctl-test-host-cas.crt"
BUNDLE_IN_IMAGE = "/etc/ssl/certs/ca-certificates.crt"
# What decides how apt reaches Debian's packages (a proxy, a mirror's validity dates);
# never a mirror's name: mmdebstrap writes Debian's default sources.
APT_OPTIONS = ("Acquire::http::Proxy", "Acquire::https::Proxy", "Acquire::Check-Valid-Until",
               "Acquire::Check-Date")
# The host's proxy settings, if any, reach pip and curl inside too.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "NO_PROXY")


def host_apt_options() -> list[str]:
    dump = subprocess.run(["apt-config", "dump"], capture_output=True, text=True,
                          check=True).stdout
    return [line.rstrip(";").strip() + ";" for line in dump.splitlines()
            if line.split(" ", 1)[0] in APT_OPTIONS]


def fresh_host_image() -> str:
    """minbase trixie with the host's apt options and CAs, built once per recipe."""
    options = host_apt_options()
    ca_bundle = HOST_CA_BUNDLE.read_bytes()
    recipe = {"suite": "trixie", "apt": options, "ca": hashlib.sha256(ca_bundle).hexdigest()}
    return image_by_recipe(IMAGE, recipe, [
        "mmdebstrap", "--variant=minbase", "--quiet",
        *(f"--aptopt={option}" for option in options),
        "--customize-hook=mkdir -p \"$1/usr/local/share/ca-certificates\"",
        f"--customize-hook=cp {HOST_CA_BUNDLE} \"$1{CA_IN_IMAGE}\"",
        "trixie"], ["sleep", "infinity"])


def image_by_recipe(image: str, recipe: dict, mmdebstrap: list[str], cmd: list[str]) -> str:
    """`image` from `mmdebstrap ... TARBALL` and `docker import`, unless the image there
    already carries the recipe's hash as a label."""
    wanted = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image,
                    check=False).strip()
    if labels and (json.loads(labels) or {}).get(RECIPE_LABEL) == wanted:
        return image
    with tempfile.TemporaryDirectory() as folder:
        tarball = Path(folder) / "image.tar"
        subprocess.run([*mmdebstrap, str(tarball)], check=True, capture_output=True)
        docker("import", "--change", f"LABEL {RECIPE_LABEL}={wanted}",
               "--change", f"CMD {json.dumps(cmd)}", str(tarball), image)
    return image


def repository_tar() -> bytes:
    """The working tree as git sees it (tracked and new files, none ignored: no .venv)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(set(filter(None, names))):
            if (REPO / name).is_file():
                archive.add(REPO / name, arcname=f"tr4ctl/{name}", recursive=False)
    return buffer.getvalue()


def remove_cgroups(parent: str) -> None:
    """The empty cgroups the inner engine made under its --cgroup-parent."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / parent
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()),
                             key=lambda p: len(p.parts), reverse=True) + [top]:
            try:
                folder.rmdir()
            except OSError:
                pass


def test_dev_up_on_a_fresh_debian_13(docker_engine):
    name = f"{TEST_PREFIX}freshhost-{os.getpid()}"
    image = fresh_host_image()
    environment = [f"{key}={BUNDLE_IN_IMAGE}" for key in ("PIP_CERT", "SSL_CERT_FILE")]
    # /proc/sys is read-only in this container: the inner engine (26.1) cannot turn IPv6
    # off on its containers' eth0 and refuses to start them unless told to go on
    # ("failed to disable IPv6 on container's interface eth0"). A quirk of an engine in a
    # container, not of a Debian 13 host: dockerd inherits it from dev-up.sh.
    environment.append("DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1")
    environment += [f"{key}={os.environ[key]}" for key in PROXY_VARIABLES if key in os.environ]
    docker("volume", "create", name)
    try:
        docker("run", "-d", "--name", name, "--hostname", "fresh-trixie",
               # What the leftover sweep of a killed run looks for (conftest).
               "--label", f"com.docker.compose.project={name}",
               "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
               "--cap-add", "SYS_PTRACE",
               "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
               "--tmpfs", "/run", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
               # The inner engine's storage on the host's disk (overlay2 works there).
               "-v", f"{name}:/var/lib/docker",
               *(item for pair in environment for item in ("-e", pair)), image)
        subprocess.run(["docker", "exec", "-i", name, "tar", "-x", "-C", "/srv"],
                       input=repository_tar(), check=True, capture_output=True)
        # The inner engine's containers in cgroups of its own, not under the host
        # engine's "docker" (the cgroup hierarchy is the host's): the operator's config.
        subprocess.run(["docker", "exec", "-i", name, "sh", "-c",
                        "mkdir -p /etc/docker && cat > /etc/docker/daemon.json"],
                       input=json.dumps({"cgroup-parent": name}).encode(), check=True)
        started = time.monotonic()
        result = subprocess.run(["docker", "exec", name, "bash", "/srv/tr4ctl/scripts/dev-up.sh"],
                                capture_output=True, text=True, timeout=1800)
        took = time.monotonic() - started
        print(f"dev-up.sh on a fresh Debian 13: exit {result.returncode} in {took:.0f} s")
        print(result.stderr[-6000:])
        assert result.returncode == 0, result.stderr[-4000:]
        assert 'GET http://127.0.0.1:8080/health -> {"status":"healthy"' in result.stdout
        lines = [line for line in result.stderr.splitlines()
                 if line.startswith(("[provision]", "[bootstrap]"))]
        provision = next(line for line in lines if line.startswith("[provision]"))
        assert provision.startswith("[provision] Debian 13 (trixie): installed docker.io "
                                    "docker-cli docker-compose mmdebstrap"), provision
        assert "started dockerd; engine 26." in provision
        bootstrap = next(line for line in lines if line.startswith("[bootstrap]"))
        assert bootstrap.startswith("[bootstrap] Debian 13 (trixie): python3 3.13"), bootstrap
        assert "installed python3 python3-venv" in bootstrap
    finally:
        docker("rm", "-f", name, check=False)
        docker("volume", "rm", name, check=False)
        remove_cgroups(name)
