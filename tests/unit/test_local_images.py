"""The registry-free PostgreSQL image: its recipe, and its entrypoint run against stand-in
commands (initdb, pg_ctl, createdb, postgres) that record what they were asked, no
Docker and no server needed."""

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest

from tr4ctl.config.keys import KEYS
from tr4ctl.plan import local_images as li


def test_the_postgres_image_is_built_and_named_by_its_setting():
    debian, dockerfiles = li.recipes(with_pebble=False)
    assert li.POSTGRES_BASE in debian and li.POSTGRES in dockerfiles
    assert li.POSTGRES.tag == "tr4ctl-local/postgres:15-bookworm"
    assert li.SETTINGS_FOR[li.POSTGRES.tag] == "TR4CTL_POSTGRES_IMAGE"
    assert KEYS["TR4CTL_POSTGRES_IMAGE"].default == "postgres:17-alpine"
    assert li.POSTGRES_BASE.tag not in li.SETTINGS_FOR  # a layer, not a service's image


def test_the_base_is_debians_server_without_its_default_cluster(tmp_path):
    argv = li.mmdebstrap_argv(li.POSTGRES_BASE, tmp_path / "rootfs.tar")
    assert argv[:4] == ["mmdebstrap", "--variant=minbase", "--quiet", "--include=postgresql-15"]
    assert ('--customize-hook=rm -rf "$1/var/lib/postgresql/15" "$1/etc/postgresql/15"'
            in argv)


def test_the_dockerfile_sets_what_docker_import_cannot():
    dockerfile = li.POSTGRES.dockerfile()
    lines = dockerfile.splitlines()
    assert lines[0] == "FROM tr4ctl-local/postgres-base:15-bookworm"
    assert lines[1] == f"LABEL io.tr4ctl.recipe={li.POSTGRES.recipe_hash}"
    # A fast shutdown on `docker stop`: SIGTERM would wait for every client to leave.
    assert "STOPSIGNAL SIGINT" in lines
    assert 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' in lines
    assert lines[-1] == 'CMD ["postgres"]'
    path = next(line for line in lines if line.startswith("ENV PATH="))
    # pg_isready, initdb and postgres are the server's own, ahead of Debian's wrappers.
    assert path.startswith("ENV PATH=/usr/lib/postgresql/15/bin:")
    assert "PGDATA=/var/lib/postgresql/data" in path
    encoded = re.search(r"RUN echo (\S+) \| base64 -d > /usr/local/bin/docker-entrypoint.sh",
                        dockerfile).group(1)
    assert base64.b64decode(encoded).decode() == li.POSTGRES_ENTRYPOINT_SCRIPT


def test_a_changed_entrypoint_changes_the_recipe():
    changed = li.PipImage(li.POSTGRES.tag, li.POSTGRES.base,
                          li.POSTGRES.dockerfile_body.replace("EXPOSE 5432", "EXPOSE 5433"))
    assert changed.recipe_hash != li.POSTGRES.recipe_hash


RECORDER = """#!/bin/sh
# Stands in for {name}: records its argv (one line) and, for initdb, the password file.
printf '%s' "{name}" >> "$RECORD"
for a in "$@"; do printf ' [%s]' "$a" >> "$RECORD"; done
echo >> "$RECORD"
case "{name}" in
  id) echo 1000 ;;
  initdb)
    for a in "$@"; do case "$a" in --pwfile=*) cp "${{a#--pwfile=}}" "$RECORD.pwfile" ;; esac; done
    mkdir -p "$PGDATA" && echo 15 > "$PGDATA/PG_VERSION"
    touch "$PGDATA/pg_hba.conf" "$PGDATA/postgresql.conf" ;;
  postgres) env > "$RECORD.env" ;;
esac
"""


@pytest.fixture
def entrypoint(tmp_path):
    """Runs the image's entrypoint as a non-root user would (id -u: 1000), with the
    PostgreSQL programs replaced by recorders."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("id", "initdb", "pg_ctl", "createdb", "postgres"):
        (bin_dir / name).write_text(RECORDER.format(name=name))
        (bin_dir / name).chmod(0o755)
    script = tmp_path / "docker-entrypoint.sh"
    script.write_text(li.POSTGRES_ENTRYPOINT_SCRIPT)
    record = tmp_path / "record"

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record),
                    "PGDATA": str(tmp_path / "data"), "TMPDIR": str(tmp_path), **env}
        return subprocess.run(["sh", str(script), *args], env=full_env, capture_output=True,
                              text=True, timeout=30, check=False)

    def calls() -> list[str]:
        return record.read_text().splitlines() if record.exists() else []

    return run, calls, record


def test_first_start_initialises_with_the_password_file_and_creates_the_database(
    entrypoint, tmp_path
):
    run, calls, record = entrypoint
    password = "s3cret with spaces"
    (tmp_path / "pw").write_text(password + "\n\n")
    result = run("postgres", "-c", "max_connections=50", POSTGRES_USER="tr4ction",
                 POSTGRES_DB="tr4ction", POSTGRES_PASSWORD_FILE=str(tmp_path / "pw"))
    assert result.returncode == 0, result.stderr
    programs = [call.split(" ", 1)[0] for call in calls() if not call.startswith("id")]
    assert programs == ["initdb", "pg_ctl", "createdb", "pg_ctl", "postgres"]
    initdb = next(call for call in calls() if call.startswith("initdb"))
    for flag in ("[--username=tr4ction]", "[--auth-host=scram-sha-256]", "[--auth-local=trust]"):
        assert flag in initdb
    # The password went through a file (trailing newlines dropped, as the official
    # image does), never through a command line, and the file is gone.
    assert (Path(f"{record}.pwfile")).read_text() == password + "\n"
    assert all(password not in call for call in calls())
    pwfile = re.search(r"\[--pwfile=([^\]]+)\]", initdb).group(1)
    assert not Path(pwfile).exists()
    assert "[--] [tr4ction]" in next(call for call in calls() if call.startswith("createdb"))
    assert calls()[-1] == "postgres [-c] [max_connections=50]"
    data = tmp_path / "data"
    assert (data / "pg_hba.conf").read_text() == "host all all all scram-sha-256\n"
    assert (data / "postgresql.conf").read_text() == "listen_addresses = '*'\n"
    assert password not in Path(f"{record}.env").read_text() + result.stdout + result.stderr


def test_a_later_start_keeps_the_data_and_needs_no_password(entrypoint, tmp_path):
    run, calls, _ = entrypoint
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15\n")
    result = run("postgres")
    assert result.returncode == 0, result.stderr
    assert [call for call in calls() if not call.startswith("id")] == ["postgres"]


@pytest.mark.parametrize(("env", "reason"), [
    ({}, "no password: set POSTGRES_PASSWORD_FILE"),
    ({"POSTGRES_PASSWORD_FILE": "/nonexistent/pw"}, "cannot read POSTGRES_PASSWORD_FILE"),
    ({"POSTGRES_PASSWORD_FILE": "/nonexistent/pw", "POSTGRES_PASSWORD": "x"}, "are exclusive"),
])
def test_a_first_start_without_a_usable_password_refuses(entrypoint, env, reason):
    run, calls, _ = entrypoint
    result = run("postgres", **env)
    assert result.returncode == 1
    assert reason in result.stderr
    assert not any(call.startswith(("initdb", "postgres")) for call in calls())


def test_other_commands_and_version_queries_run_as_given(entrypoint, tmp_path):
    run, calls, _ = entrypoint
    assert run("postgres", "--version").returncode == 0
    assert run("-V").returncode == 0
    assert run("pg_ctl", "status").returncode == 0
    assert [c for c in calls() if not c.startswith("id")] == [
        "postgres [--version]", "postgres [-V]", "pg_ctl [status]"]
    assert not (tmp_path / "data").exists()


def test_the_entrypoint_is_posix_sh():
    assert os.path.exists("/bin/dash"), \
        "dash (Debian's /bin/sh, what the image runs) is needed to check the script: apt-get install dash"
    checked = subprocess.run(["/bin/dash", "-n"], input=li.POSTGRES_ENTRYPOINT_SCRIPT,
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
