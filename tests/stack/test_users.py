"""Issue 5 on a real engine: users seed / list through the backend's management command."""

import json
import os
import secrets
import subprocess
import threading

import httpx
import pytest
from conftest import docker

ADMIN = "admin@users.test"
FOUNDER = "founder@users.test"
DEFAULTS = ("--admin-email", ADMIN, "--founder-email", FOUNDER)


def login(stack, email: str, password: str) -> httpx.Response:
    # Only successful logins here: failed ones are rate-limited per (ip, email).
    return httpx.post(stack.url("/api/auth/login"), json={"email": email, "password": password},
                      timeout=60)


def current_user(stack, email: str, password: str) -> dict:
    response = login(stack, email, password)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = httpx.get(stack.url("/api/auth/me"), headers={"Authorization": f"Bearer {token}"},
                   timeout=60)
    assert me.status_code == 200, me.text
    return me.json()


def users(stack) -> list[dict]:
    return stack.json("users", "list")["data"]["users"]


def private_file(path, content: str):
    path.write_text(content)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def seeded(dev_stack, tmp_path_factory):
    output = tmp_path_factory.mktemp("users") / "passwords.json"
    result = dev_stack.tr4ctl("--json", "users", "seed", *DEFAULTS, "--generate",
                              "--output", str(output))
    accounts = json.loads(output.read_text())
    return {"result": result, "output": output,
            "passwords": {a["email"]: a["password"] for a in accounts}}


def test_generated_passwords_go_to_a_private_file_only(seeded):
    envelope = json.loads(seeded["result"].stdout)
    assert envelope["data"]["created"] == [ADMIN, FOUNDER]
    assert envelope["data"]["passwords"]["output_file"] == str(seeded["output"])
    assert oct(seeded["output"].stat().st_mode & 0o777) == "0o600"
    assert set(seeded["passwords"]) == {ADMIN, FOUNDER}
    for password in seeded["passwords"].values():
        assert len(password) >= 24
        assert password not in seeded["result"].stdout + seeded["result"].stderr


def test_each_generated_password_logs_in_through_nginx_with_its_role(dev_stack, seeded):
    for email, role in ((ADMIN, "admin"), (FOUNDER, "founder")):
        me = current_user(dev_stack, email, seeded["passwords"][email])
        assert (me["email"], me["role"]) == (email, role)


def test_second_seed_reports_every_account_unchanged(dev_stack, seeded):
    before = seeded["output"].read_text()
    # Without a password source: existing accounts need none.
    plain = dev_stack.json("users", "seed", *DEFAULTS)["data"]
    assert (plain["created"], plain["updated"], plain["unchanged"]) == ([], [], [ADMIN, FOUNDER])
    again = dev_stack.json("users", "seed", *DEFAULTS, "--generate", "--output",
                           str(seeded["output"]))["data"]
    assert again["unchanged"] == [ADMIN, FOUNDER] and again["passwords"]["generated"] == []
    assert seeded["output"].read_text() == before  # the only copy of the passwords is kept
    assert current_user(dev_stack, ADMIN, seeded["passwords"][ADMIN])["role"] == "admin"


def test_list_shows_accounts_without_hashes(dev_stack, seeded):
    result = dev_stack.tr4ctl("--json", "users", "list")
    listed = {u["email"]: u for u in json.loads(result.stdout)["data"]["users"]}
    assert listed[ADMIN]["role"] == "admin" and listed[FOUNDER]["role"] == "founder"
    assert set(listed[ADMIN]) == {"email", "name", "role", "created_at"}
    assert listed[ADMIN]["created_at"][:2] == "20"
    assert "$2b$" not in result.stdout and "hash" not in result.stdout
    table = dev_stack.tr4ctl("users", "list").stdout
    assert ADMIN in table and "founder" in table and listed[ADMIN]["created_at"][:10] in table


# -- secrets stay off command lines and out of logs -----------------------------------
# Runs inside the backend container; the password arrives on stdin, never in argv. The
# markers are split so the scanner's own command line does not match them.
CONTAINER_SCANNER = r"""
import json, os, select, sys, time
needle = sys.stdin.readline().rstrip("\n").encode()
marker = b"app." + b"manage"
print("ready", flush=True)
hits, saw_seed, scans = 0, False, 0
while not select.select([sys.stdin], [], [], 0)[0]:
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        hits += needle in command
        saw_seed |= marker in command and b"seed" in command
    scans += 1
    time.sleep(0.005)
print(json.dumps({"hits": hits, "saw_seed": saw_seed, "scans": scans}), flush=True)
"""


class HostScanner(threading.Thread):
    def __init__(self, needle: str, project: str):
        super().__init__(daemon=True)
        self.needle, self.project = needle.encode(), project.encode()
        self.stop = threading.Event()
        self.hits: list[str] = []
        self.saw_seed = False

    def run(self):
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        command = handle.read()
                except OSError:
                    continue
                if self.needle in command:
                    self.hits.append(pid)
                if b"app.manage" in command and b"seed" in command and self.project in command:
                    self.saw_seed = True
            self.stop.wait(0.005)


def test_password_is_on_no_command_line_and_in_no_log(dev_stack, tmp_path):
    password = "watched-" + secrets.token_urlsafe(18)
    email = "watched@users.test"
    accounts = private_file(tmp_path / "watched.json", json.dumps(
        [{"email": email, "role": "founder", "name": "Watched", "password": password}]))
    backend = dev_stack.container_ids()["backend"]
    scanner = subprocess.Popen(["docker", "exec", "-i", backend, "python3", "-c",
                                CONTAINER_SCANNER],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    host = HostScanner(password, dev_stack.name)
    try:
        scanner.stdin.write(password + "\n")
        scanner.stdin.flush()
        assert scanner.stdout.readline().strip() == "ready"
        host.start()
        result = dev_stack.json("users", "seed", "--file", str(accounts))
    finally:
        host.stop.set()
        host.join(timeout=30)
        scanner.stdin.close()
        container = json.loads(scanner.stdout.readline() or "{}")
        scanner.wait(timeout=60)
    assert result["data"]["created"] == [email]
    assert host.saw_seed and container.get("saw_seed"), (host.saw_seed, container)
    assert host.hits == [] and container["hits"] == 0

    assert current_user(dev_stack, email, password)["name"] == "Watched"
    logs = [dev_stack.tr4ctl("logs", "backend").stdout]
    for container_id in dev_stack.container_ids().values():
        if container_id:
            completed = subprocess.run(["docker", "logs", container_id], check=False,
                                       capture_output=True, text=True)
            logs.append(completed.stdout + completed.stderr)
    for service, directory in (("backend", "/app/logs"), ("nginx", "/var/log/nginx")):
        logs.append(dev_stack.compose_exec(
            service, "sh", "-c", f"find {directory} -type f -exec cat {{}} + ; true"))
    assert any("/api/auth/login" in log for log in logs)  # the logs were really read
    assert not [log for log in logs if password in log]


# -- bad input changes nothing ---------------------------------------------------------
BAD_FILES = {
    "malformed": ('[{"email": "new1@users.test", "role": "admin"', "not valid JSON"),
    "unknown role": (json.dumps([{"email": "new1@users.test", "role": "admin"},
                                 {"email": "new2@users.test", "role": "owner"}]),
                     "unknown role 'owner'"),
    "duplicate email": (json.dumps([{"email": "new1@users.test", "role": "admin"},
                                    {"email": "NEW1@users.test", "role": "founder"}]),
                        "duplicate email new1@users.test"),
    "invalid email": (json.dumps([{"email": "new1@users.test", "role": "admin"},
                                  {"email": "new2-at-users.test", "role": "founder"}]),
                      "invalid email"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_accounts_file_is_one_line_exit_2_and_creates_nothing(dev_stack, seeded, tmp_path,
                                                                   case):
    before = users(dev_stack)
    text, words = BAD_FILES[case]
    path = tmp_path / "accounts.json"
    path.write_text(text)
    output = tmp_path / "passwords.json"
    result = dev_stack.tr4ctl("users", "seed", "--file", str(path), "--generate",
                              "--output", str(output), check=False)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert not output.exists()
    assert users(dev_stack) == before


def test_weak_password_from_stdin_is_refused_with_its_rule(dev_stack, seeded):
    before = users(dev_stack)
    result = dev_stack.tr4ctl("users", "seed", "--admin-email", "weak@users.test",
                              "--founder-email", FOUNDER, "--password-stdin",
                              input="too short\nfounder line is ignored\n", check=False)
    assert result.returncode == 2
    assert "weak password for weak@users.test" in result.stderr
    assert "shorter than 12 characters" in result.stderr and "too short" not in result.stderr
    assert users(dev_stack) == before


def test_reset_password_changes_only_the_named_account(dev_stack, seeded):
    new_password = "reset-" + secrets.token_urlsafe(18)
    data = dev_stack.json("users", "seed", *DEFAULTS, "--only", FOUNDER, "--reset-password",
                          "--password-stdin", input=new_password + "\n")["data"]
    assert (data["created"], data["updated"], data["unchanged"]) == ([], [FOUNDER], [])
    assert current_user(dev_stack, FOUNDER, new_password)["role"] == "founder"
    assert login(dev_stack, FOUNDER, seeded["passwords"][FOUNDER]).status_code == 401
    assert current_user(dev_stack, ADMIN, seeded["passwords"][ADMIN])["role"] == "admin"
    seeded["passwords"][FOUNDER] = new_password


def test_accounts_survive_down_and_up_and_need_a_running_stack(dev_stack, seeded):
    before = users(dev_stack)
    dev_stack.tr4ctl("down")
    try:
        for command in (("users", "list"), ("users", "seed", *DEFAULTS)):
            result = dev_stack.tr4ctl(*command, check=False)
            assert result.returncode == 3, result.stderr
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and "not running" in lines[0] and "tr4ctl up" in lines[0]
    finally:
        dev_stack.tr4ctl("up", "--env", "dev")
    assert users(dev_stack) == before
    for email, role in ((ADMIN, "admin"), (FOUNDER, "founder")):
        assert current_user(dev_stack, email, seeded["passwords"][email])["role"] == role
    assert docker("volume", "ls", "-q", "--filter", f"name={dev_stack.name}_backend_data")
