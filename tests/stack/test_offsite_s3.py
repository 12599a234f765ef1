"""The S3 path of the off-host backups against moto's server mode (the most real S3 the
package registries offer here: no MinIO), in a container of this module's own on the
stack's network, running this virtualenv's moto (same Debian Python as the image).

What it proves: the rendered service reaches an S3 API over a real socket with the
credentials file read as data, restic's S3 backend creates the bucket, uploads, prunes
and reads back; a damaged object is caught. What it does not: AWS's own behaviour
(signatures v4 against real endpoints, IAM policies, eventual consistency, throttling,
TLS), which only a real bucket shows."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig

import pytest
from conftest import docker, new_stack, wait_for
from sftp_target import schedule_status

ALIAS = "t3os-s3"
PORT = 5000
BUCKET = "t3os-backups"
ACCESS_KEY, SECRET_KEY = "t3osaccesskey", "t3os-secret-key-not-real"
PYTHON_IMAGE = "tr4ctl-local/python:3.11-bookworm"


@pytest.fixture(scope="module")
def s3_stack(docker_engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp("t3os-s3")
    credentials = folder / "s3-credentials"
    credentials.write_text(f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n")
    credentials.chmod(0o600)
    stack = new_stack(tmp_path_factory, "t3os-s3", settings={
        "TR4CTL_BACKUP_SCHEDULE": "1m", "TR4CTL_BACKUP_KEEP": "1h",
        "TR4CTL_BACKUP_TARGET": f"s3:http://{ALIAS}:{PORT}/{BUCKET}",
        "TR4CTL_BACKUP_S3_CREDENTIALS": str(credentials)})
    # Not of the stack's project (its `down` would remove it); a t4t-...-<pid> name, so a
    # killed run's leftover is found.
    server = f"t4t-t3os-moto-{os.getpid()}"
    packages = sysconfig.get_paths()["purelib"]
    try:
        stack.tr4ctl("init")
        docker("run", "-d", "--name", server, "--label", f"com.docker.compose.project={server}",
               "--network", f"{stack.name}_network", "--network-alias", ALIAS,
               "-v", f"{packages}:/opt/moto-site:ro", "-e", "PYTHONPATH=/opt/moto-site",
               PYTHON_IMAGE, "python3", "-m", "moto.server", "-H", "0.0.0.0", "-p", str(PORT))
        wait_for(lambda: "Running on" in _logs(server), "moto's server", 60)
        stack.tr4ctl("up", "--env", "dev")
        yield stack, server
    finally:
        stack.tr4ctl("down", "--volumes", "--yes", check=False)
        docker("rm", "-f", server, check=False)
        docker("network", "rm", f"{stack.name}_network", check=False)


def _logs(container: str) -> str:
    done = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    return done.stdout + done.stderr


def _client(server: str):
    import boto3

    address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                     server).strip()
    return boto3.client("s3", endpoint_url=f"http://{address}:{PORT}", region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def test_s3_copies_land_and_damage_is_caught(s3_stack):
    stack, server = s3_stack
    wait_for(lambda: (s := schedule_status(stack))
             and s["verdict"] == "ok" and s["state"]["last_run"], "a scheduled pass to S3",
             240, every=3)
    s3 = _client(server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    data = [k for k in keys if k.startswith("data/")]
    assert data and "config" in keys and any(k.startswith("snapshots/") for k in keys)
    assert stack.tr4ctl("backup", "verify", "--offsite").returncode == 0
    verified = json.loads(stack.tr4ctl("--json", "verify", check=False).stdout)
    item = next(c for c in verified["checks"] if c["name"] == "scheduled backup off the host")
    assert item["verdict"] == "pass" and BUCKET in item["measured"]
    # No secret in the rendered file or the service's environment: only the file's path.
    rendered = (stack.project_dir / ".tr4ctl" / "docker-compose.yml").read_text()
    assert SECRET_KEY not in rendered
    environment = docker("inspect", "--format", "{{json .Config.Env}}",
                         f"{stack.name}-backup-schedule-1")
    assert SECRET_KEY not in environment
    for key in data:
        body = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        body[40:56] = b"X" * 16
        s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    bad = stack.tr4ctl("backup", "verify", "--offsite", check=False)
    assert bad.returncode == 1 and "failed verification" in bad.stderr
