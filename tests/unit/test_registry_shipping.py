"""Images through a registry (TR4CTL_REGISTRY): the names, the exact commands, and the
credentials, which never appear in an argv here or on the host."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from tr4ctl.actions.images.ship import registry_access
from tr4ctl.errors import BadInput
from tr4ctl.plan import registry as plan
from tr4ctl.plan.ssh_target import parse_target
from tr4ctl.remote.commands import SshOptions, ssh_run

USER, PASSWORD = "deployer", "s3cret-Registry-Pa55"
REGISTRY = plan.parse_registry("registry.example.com:5000/team")


@pytest.mark.parametrize("reference, pushed", [
    ("tr4ction/backend:abc", "registry.example.com:5000/team/tr4ction/backend:abc"),
    ("nginx:1.27-alpine", "registry.example.com:5000/team/nginx:1.27-alpine"),
    ("other.example:443/lib/chroma:1.5", "registry.example.com:5000/team/lib/chroma:1.5"),
    ("localhost/x:1", "registry.example.com:5000/team/x:1"),
])
def test_each_image_is_pushed_under_the_registry_and_its_prefix(reference, pushed):
    assert plan.registry_reference(REGISTRY, reference) == pushed


def test_a_registry_without_prefix_and_a_digest_reference():
    bare = plan.parse_registry("localhost:5000")
    assert plan.registry_reference(bare, "tr4ction/backend:abc") == \
        "localhost:5000/tr4ction/backend:abc"
    with pytest.raises(ValueError, match="digest"):
        plan.registry_reference(bare, "nginx@sha256:" + "a" * 64)


@pytest.mark.parametrize("value, problem", [
    ("https://registry.example.com", "without a scheme"),
    ("registry", "not a registry host"),
    ("registry.example.com/Team", "not a repository path"),
])
def test_a_registry_setting_that_is_no_registry_is_refused(value, problem):
    assert problem in plan.registry_problem(value)


def test_push_and_pull_commands():
    assert plan.push_argvs(REGISTRY, ["tr4ction/backend:abc"]) == [
        ["docker", "tag", "tr4ction/backend:abc",
         "registry.example.com:5000/team/tr4ction/backend:abc"],
        ["docker", "push", "registry.example.com:5000/team/tr4ction/backend:abc"]]
    argv = plan.pull_argv(REGISTRY, ["tr4ction/backend:abc"])
    assert argv[:2] == ["sh", "-c"] and argv[3:] == [
        "sh", "registry.example.com:5000/team/tr4ction/backend:abc", "tr4ction/backend:abc"]


def credentials_file(tmp_path, text, mode=0o600):
    path = tmp_path / "registry-auth"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("text", [
    f"{USER}\n{PASSWORD}\n",
    json.dumps({"auths": {"registry.example.com:5000": {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
        "other.example": {"auth": "b3RoZXI6b3RoZXI="}}}),
])
def test_the_secret_is_in_the_private_config_only_never_in_an_argv(tmp_path, text):
    access = registry_access(str(REGISTRY), credentials_file(tmp_path, text))
    config = json.loads(access.config_json)
    # Only this registry's entry travels (another registry's credentials stay home).
    assert list(config["auths"]) == ["registry.example.com:5000"]
    assert base64.b64decode(config["auths"]["registry.example.com:5000"]["auth"]).decode() \
        == f"{USER}:{PASSWORD}"
    token = config["auths"]["registry.example.com:5000"]["auth"]
    target = parse_target("ssh://ubuntu@host.example")
    argvs = [*plan.push_argvs(REGISTRY, ["tr4ction/backend:abc", "nginx:1"]),
             plan.pull_argv(REGISTRY, ["tr4ction/backend:abc", "nginx:1"]),
             # what actually runs: the pull through ssh, with sudo on the host
             ssh_run(target, SshOptions(control_dir=tmp_path),
                     plan.pull_argv(REGISTRY, ["tr4ction/backend:abc"]))]
    for argv in argvs:
        words = " ".join(argv)
        assert PASSWORD not in words and token not in words and USER not in words


def test_the_pull_script_reads_the_config_from_stdin_into_a_private_folder(tmp_path):
    """The script run by a real shell, with a stand-in docker that records what it got."""
    record = tmp_path / "record"
    fake = tmp_path / "docker"
    fake.write_text(f"""#!/bin/sh
echo "$@ config=$DOCKER_CONFIG" >> {record}
[ "$1" = pull ] && stat -c %a "$DOCKER_CONFIG" "$DOCKER_CONFIG/config.json" >> {record} \
  && cat "$DOCKER_CONFIG/config.json" >> {record} && echo >> {record}
exit 0
""")
    fake.chmod(0o755)
    config = plan.docker_config(REGISTRY, f"{USER}\n{PASSWORD}\n")
    done = subprocess.run(plan.pull_argv(REGISTRY, ["a/b:1"]), input=config, text=True,
                          capture_output=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    lines = record.read_text().splitlines()
    pulled = "registry.example.com:5000/team/a/b:1"
    assert lines[0].startswith(f"pull {pulled} config=/")
    folder = lines[0].rsplit("config=", 1)[1]
    assert lines[1:3] == ["700", "600"] and json.loads(lines[3]) == json.loads(config)
    assert lines[4].startswith(f"tag {pulled} a/b:1")
    assert not os.path.exists(folder)  # removed on exit


def test_a_credentials_file_others_can_read_is_refused_naming_chmod(tmp_path):
    path = credentials_file(tmp_path, f"{USER}\n{PASSWORD}\n", mode=0o644)
    with pytest.raises(BadInput) as refused:
        registry_access(str(REGISTRY), path)
    assert refused.value.hint == f"chmod 600 {path}"
    assert PASSWORD not in refused.value.message


@pytest.mark.parametrize("text, problem", [
    ("just-one-line\n", "two lines"),
    ('{"auths": {"elsewhere.example": {}}}', "no entry for registry.example.com:5000"),
    ("{not json", "not valid JSON"),
])
def test_a_credentials_file_of_another_shape_is_refused_without_echoing_it(tmp_path, text,
                                                                           problem):
    with pytest.raises(BadInput) as refused:
        registry_access(str(REGISTRY), credentials_file(tmp_path, text))
    assert problem in refused.value.message and text.strip() not in refused.value.message


def test_a_credentials_file_without_a_registry_is_refused(tmp_path):
    with pytest.raises(BadInput, match="TR4CTL_REGISTRY is not"):
        registry_access(None, credentials_file(tmp_path, "a\nb\n"))
    assert registry_access(None, None) is None


def test_images_ship_refuses_bad_input_in_one_line_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR4CTL_")}
    for args, extra, words in [
        ((), {}, "no host given"),
        (("--host", "http://host.example"), {}, "not an ssh:// address"),
        (("--host", "ssh://root@host.example"), {"TR4CTL_REGISTRY": "https://r.example"},
         "without a scheme"),
    ]:
        done = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path),
                               "images", "ship", *args], capture_output=True, text=True,
                              env={**env, **extra}, timeout=60)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], done.stderr
