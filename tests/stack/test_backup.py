"""Issue 7 on a real engine: backup under load, restore into a fresh stack, damaged and
bad archives refused with nothing changed, an interrupted restore, pruning.

One prod stack for the module (HTTPS with a self-signed certificate placed in the
certbot_conf volume, so "HTTPS serves the restored certificate" is checked for real).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import ssl
import subprocess
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import docker, new_stack, own_environment, wait_for
from load import AccountLoad

DOMAIN = "backup.tr4ctl.test"
ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "drill-admin-password-1"
MARKER = "tr4ctl-test/marker.txt"
CHROMA = '''
import json, sys, urllib.request
B = "http://chroma:8000/api/v2/tenants/default_tenant/databases/default_database/collections"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read() or b"null")
if sys.argv[1] == "seed":
    for name, n in (("drill", 5), ("notes", 2)):
        c = call("POST", B, {"name": name, "get_or_create": True})
        ids = ["%s-%d" % (name, i) for i in range(n)]
        call("POST", "%s/%s/add" % (B, c["id"]), {"ids": ids, "documents": ids,
             "embeddings": [[i, i + 1.0, i + 2.0] for i in range(n)]})
print(json.dumps({c["name"]: call("GET", "%s/%s/count" % (B, c["id"])) for c in call("GET", B)}))
'''


# -- helpers -----------------------------------------------------------------------------
def env_value(stack, key: str) -> str | None:
    for line in (stack.project_dir / ".env").read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return None


def helper_image(stack) -> str:
    return env_value(stack, "TR4CTL_BACKEND_BASE_IMAGE") or "python:3.11-slim"


def self_signed_certificate() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=80))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def put_files_in_volume(stack, volume_key: str, files: dict[str, tuple[bytes, int]]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "-v",
                    f"{stack.name}_{volume_key}:/v", "--entrypoint", "tar", helper_image(stack),
                    "-xf", "-", "-C", "/v"], input=buffer.getvalue(), check=True,
                   capture_output=True)


def read_file_in_volume(stack, volume_key: str, path: str) -> str | None:
    result = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v",
                             f"{stack.name}_{volume_key}:/v:ro", "--entrypoint", "cat",
                             helper_image(stack), f"/v/{path}"], capture_output=True, text=True,
                            check=False)
    return result.stdout if result.returncode == 0 else None


def served_certificate(stack) -> bytes:
    pem = ssl.get_server_certificate(("127.0.0.1", stack.https_port), timeout=30)
    return ssl.PEM_cert_to_DER_cert(pem)


def seed_admin(stack) -> None:
    accounts = {"accounts": [{"email": ADMIN_EMAIL, "role": "admin", "password": ADMIN_PASSWORD}]}
    stack.compose_exec("backend", "python3", "-m", "app.manage", "seed",
                       input=json.dumps(accounts))


def accounts(stack) -> set[str]:
    listed = stack.compose_exec("backend", "python3", "-m", "app.manage", "list-users")
    return {user["email"] for user in json.loads(listed)}


def integrity(stack) -> str:
    script = ("import sqlite3; from app.core.config import load_settings; "
              "p = load_settings().DATABASE_URL.removeprefix('sqlite:///'); "
              "print(sqlite3.connect(p).execute('PRAGMA integrity_check').fetchone()[0])")
    return stack.compose_exec("backend", "python3", "-c", script).strip()


def chroma(stack, action: str) -> dict[str, int]:
    out = stack.compose_exec("backend", "python3", "-", action, input=CHROMA)
    return json.loads(out.strip().splitlines()[-1])


def api_client(stack, token: str | None = None) -> httpx.Client:
    headers = {"Host": DOMAIN, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.Client(base_url=f"https://127.0.0.1:{stack.https_port}", verify=False,
                        timeout=60, headers=headers)


def admin_token(stack) -> str:
    with api_client(stack) as client:
        response = client.post("/api/auth/login",
                               json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def backups_dir(stack) -> Path:
    return stack.project_dir / "backups"


def archives(stack, kind: str = "backup") -> list[Path]:
    directory = backups_dir(stack)
    return sorted(directory.glob(f"{stack.name}-{kind}-*.tar.gz")) if directory.exists() else []


def an_archive(stack) -> Path:
    """The newest `backup create` archive of the module's stack, made if there is none."""
    found = archives(stack)
    if not found:
        stack.tr4ctl("backup", "create")
        found = archives(stack)
    return found[-1]


def snapshot(stack) -> dict:
    """What must not change when a restore is refused."""
    return {
        "containers": stack.container_ids(),
        "accounts": accounts(stack),
        "env": (stack.project_dir / ".env").read_bytes(),
        "backups": sorted(p.name for p in backups_dir(stack).iterdir()),
        "journal": (stack.project_dir / ".tr4ctl" / "restore-journal.json").exists(),
    }


def repack(src: Path, dest: Path, change_manifest) -> None:
    """The same archive with its manifest changed (a consistent, valid gzip)."""
    out = io.BytesIO()
    with tarfile.open(src, "r:gz") as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old:
            data = old.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                change_manifest(manifest)
                data = json.dumps(manifest).encode()
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    dest.write_bytes(gzip.compress(out.getvalue()))


def one_line(result, code: int, *words: str) -> None:
    assert result.returncode == code, f"exit {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr
    text = " ".join(line.strip() for line in result.stderr.splitlines() if line.strip())
    for word in words:
        assert word in text, text


# -- the stack ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    stack = new_stack(tmp_path_factory, "backup", settings={"TR4CTL_DOMAIN": DOMAIN})
    stack.tr4ctl("init")
    cert, key = self_signed_certificate()
    put_files_in_volume(stack, "certbot_conf", {
        f"live/{DOMAIN}/fullchain.pem": (cert, 0o644),
        f"live/{DOMAIN}/privkey.pem": (key, 0o600),
        MARKER: (b"placed before the backup\n", 0o644),
    })
    stack.tr4ctl("up", "--env", "prod")
    seed_admin(stack)
    stack.certificate = ssl.PEM_cert_to_DER_cert(cert.decode())
    yield stack
    stack.tr4ctl("down", "--volumes", "--yes", check=False)


def test_backup_under_load_restores_everything_into_a_fresh_stack(stack):
    assert served_certificate(stack) == stack.certificate
    collections = chroma(stack, "seed")
    assert collections == {"drill": 5, "notes": 2}
    env_before = (stack.project_dir / ".env").read_bytes()

    token = admin_token(stack)
    load = AccountLoad(lambda: api_client(stack, token))
    load.start()
    try:
        wait_for(lambda: len(load.committed) >= 3, "the load loop to create accounts")
        started = time.monotonic()
        created = stack.json("backup", "create")["data"]
        wait_for(lambda: load.committed and load.committed[-1][1] > time.monotonic() - 30,
                 "the load loop to go on after the backup")
    finally:
        load.halt.set()
        load.join(timeout=120)
    before_backup = load.committed_before(started)
    assert len(before_backup) >= 3

    archive = Path(created["path"])
    assert archive.parent == backups_dir(stack)
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert oct(archive.parent.stat().st_mode & 0o777) == "0o700"
    parts = {p["name"]: p for p in created["manifest"]["parts"]}
    assert parts["database.sqlite3"]["details"]["integrity_check"] == "ok"
    assert "chroma stopped" in parts["chroma_data.tar"]["details"]["consistency"]
    # Chroma was stopped only for a copy inside the engine, removed once archived.
    volumes = docker("volume", "ls", "-q", "--filter", f"name={stack.name}_").split()
    assert not [v for v in volumes if v.endswith("-backup-copy")], volumes
    assert created["manifest"]["tr4ctl_version"] and created["manifest"]["created_at"]
    assert all(len(p["sha256"]) == 64 for p in parts.values() if not p["absent"])
    stack.tr4ctl("backup", "verify", str(archive))
    listed = stack.json("backup", "list")["data"]["archives"]
    assert archive.name in [entry["file"] for entry in listed]

    # A fresh stack: no containers, no volumes, no network.
    stack.tr4ctl("down", "--volumes", "--yes")
    assert stack.name + "_backend_data" not in docker("volume", "ls", "--format", "{{.Name}}")

    restored = stack.tr4ctl("--json", "backup", "restore", str(archive), "--yes",
                            env={"COLUMNS": "2000"})
    data = json.loads(restored.stdout)["data"]
    safety = Path(data["safety_backup"])
    assert safety.exists() and "safety" in safety.name
    assert f"safety backup of the current state: {safety}" in restored.stderr

    states = {s["service"]: s for s in stack.json("status")["data"]["services"]}
    for name in ("backend", "nginx", "chroma"):
        assert (states[name]["state"], states[name]["health"]) == ("running", "healthy")
    after = accounts(stack)
    assert before_backup <= after, sorted(before_backup - after)
    assert ADMIN_EMAIL in after
    assert integrity(stack) == "ok"
    assert chroma(stack, "count") == collections
    assert served_certificate(stack) == stack.certificate
    assert read_file_in_volume(stack, "certbot_conf", MARKER) == "placed before the backup\n"
    env_file = stack.project_dir / ".env"
    assert env_file.read_bytes() == env_before
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    # The restored accounts log in through HTTPS (same secret, same hashes).
    assert admin_token(stack)


def test_damaged_archives_are_refused_and_nothing_changes(stack, tmp_path):
    archive = an_archive(stack)
    data = bytearray(archive.read_bytes())
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(bytes(data[: len(data) * 2 // 3]))
    data[len(data) // 2] ^= 0x01
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(bytes(data))

    before = snapshot(stack)
    one_line(stack.tr4ctl("backup", "verify", str(flipped), check=False), 1, "damaged")
    one_line(stack.tr4ctl("backup", "verify", str(truncated), check=False), 1, "truncated")
    one_line(stack.tr4ctl("backup", "restore", str(flipped), "--yes", check=False), 1,
             "damaged", "nothing was changed")
    one_line(stack.tr4ctl("backup", "restore", str(truncated), "--yes", check=False), 1,
             "truncated", "nothing was changed")
    assert snapshot(stack) == before


def test_bad_input_is_one_line_and_changes_nothing(stack, tmp_path):
    archive = an_archive(stack)
    before = snapshot(stack)

    one_line(stack.tr4ctl("backup", "restore", str(tmp_path / "nope.tar.gz"), "--yes",
                          check=False), 2, "no archive at")

    newer = tmp_path / "newer.tar.gz"
    repack(archive, newer, lambda m: m.update(format_version=m["format_version"] + 1))
    one_line(stack.tr4ctl("backup", "restore", str(newer), "--yes", check=False), 2,
             "format version", "upgrade tr4ctl")

    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    try:
        result = stack.tr4ctl("backup", "restore", str(archive), "--yes", "--safety-dir",
                              str(small), check=False)
        one_line(result, 1, "not enough space", str(small), "nothing was changed")
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert snapshot(stack) == before


def test_an_interrupted_restore_is_never_served_and_is_finished_by_a_rerun(stack):
    archive = an_archive(stack)
    marker = {"email": "after-backup@example.test", "role": "founder",
              "password": "after-backup-password"}
    stack.compose_exec("backend", "python3", "-m", "app.manage", "seed",
                       input=json.dumps({"accounts": [marker]}))
    journal = stack.project_dir / ".tr4ctl" / "restore-journal.json"

    # Killed while the second volume is being written: the database is already the
    # archive's, Chroma half, the certificates still the current ones.
    restore = subprocess.Popen(
        stack.argv("--verbose", "backup", "restore", str(archive), "--yes"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**own_environment(), "COLUMNS": "2000"})
    seen = []
    try:
        for line in restore.stderr:
            seen.append(line)
            if f"{stack.name}_chroma_data:/v " in line and "exec python3" in line:
                os.kill(restore.pid, signal.SIGKILL)
                break
    finally:
        restore.kill()
        restore.wait()
    assert restore.returncode == -signal.SIGKILL, "".join(seen)
    assert journal.exists()

    # Nothing serves the half-restored volumes, and every way in names the way out.
    services = stack.json("status")["data"]["services"]
    assert not [s for s in services if s["state"] == "running"], services
    refused = stack.tr4ctl("up", "--env", "prod", check=False)
    one_line(refused, 1, "interrupted", f"tr4ctl backup restore {archive} --yes")
    one_line(stack.tr4ctl("backup", "create", check=False), 1, "interrupted")

    finished = stack.tr4ctl("backup", "restore", str(archive), "--yes")
    assert "finishing an interrupted restore" in finished.stderr
    assert not journal.exists()
    assert marker["email"] not in accounts(stack)
    assert ADMIN_EMAIL in accounts(stack)
    assert integrity(stack) == "ok"
    assert chroma(stack, "count") == {"drill": 5, "notes": 2}
    assert served_certificate(stack) == stack.certificate
    ids = stack.container_ids()
    for service in ("backend", "nginx", "chroma"):
        listed = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={stack.name}",
                        "--filter", f"label=com.docker.compose.service={service}", "-q")
        assert listed.split() == [ids[service][:12]]
    leftovers = docker("ps", "-aq", "--filter", f"label=io.tr4ctl.project={stack.name}",
                       "--filter", "label=io.tr4ctl.role=backup-helper")
    assert leftovers.strip() == ""


def test_keep_prunes_only_this_projects_older_backups(stack):
    directory = backups_dir(stack)
    newest = an_archive(stack)
    older = [directory / f"{stack.name}-backup-2000010{i}T000000Z.tar.gz" for i in (1, 2, 3)]
    for path in older:
        path.write_bytes(newest.read_bytes())
    foreign = directory / "other-project-backup-20000101T000000Z.tar.gz"
    foreign.write_bytes(b"not ours")
    safeties = archives(stack, "safety")
    assert safeties  # the restores above left theirs

    before = {p.name for p in archives(stack)}
    created = stack.json("backup", "create", "--keep", "2")["data"]
    assert sorted(created["pruned"]) == sorted(before - {newest.name})
    remaining = archives(stack)
    assert [p.name for p in remaining] == sorted([newest.name, Path(created["path"]).name])
    assert foreign.exists()
    assert archives(stack, "safety") == safeties
