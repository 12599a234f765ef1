"""TR4CTL_BACKEND_SOURCE: what it names (the shipped backend/, a directory with a
Dockerfile, a git repository at a ref), the git argv built purely, refusals (exit 2) for
a setting or ref that names no build context, and the release's `commit`."""

import json
import subprocess

import pytest

from tests.unit.test_config_trust import clean_env, project, tr4ctl  # noqa: F401
from tr4ctl.actions.images.backend_source import build_context, resolve_backend_source
from tr4ctl.errors import BadInput
from tr4ctl.plan.backend_source import (
    DIRECTORY,
    GIT,
    SHIPPED,
    clone_argv,
    parse_ls_remote,
    parse_rev_parse,
    rev_parse_argv,
    source_kind,
)
from tr4ctl.plan.releases import FORMAT, History, Release, commit_of_image, parse_history

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repository(tmp_path):
    """A repository with two commits (the second tagged v2), each with a Dockerfile."""
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "--quiet")
    git(repo, "config", "user.email", "t@example.test")
    git(repo, "config", "user.name", "t")
    for version in ("1", "2"):
        (repo / "Dockerfile").write_text(f"FROM scratch\nLABEL v={version}\n")
        git(repo, "add", "Dockerfile")
        git(repo, "commit", "--quiet", "-m", f"v{version}")
    git(repo, "tag", "v2")
    return repo


def test_the_git_argv_never_takes_a_ref_or_location_as_an_option():
    assert rev_parse_argv("/r", "v1") == ["git", "-C", "/r", "rev-parse", "--verify", "--quiet",
                                          "--end-of-options", "v1^{commit}"]
    assert clone_argv("/r", "/t/s") == ["git", "clone", "--quiet", "--no-checkout",
                                        "--end-of-options", "/r", "/t/s"]


def test_kinds_and_answers_read_strictly():
    assert source_kind("https://git.example.test/app", has_git_dir=False) == GIT
    assert source_kind("git@git.example.test:team/app", has_git_dir=False) == GIT
    assert source_kind("/srv/app", has_git_dir=True) == GIT
    assert source_kind("/srv/app", has_git_dir=False) == DIRECTORY
    assert parse_rev_parse(COMMIT + "\n") == COMMIT
    assert parse_rev_parse(COMMIT[:20]) is None
    listing = f"{COMMIT}\trefs/tags/v1\n{'f' * 40}\trefs/heads/main\n"
    assert parse_ls_remote(listing, "v1") == COMMIT
    assert parse_ls_remote(listing, "main") == "f" * 40
    assert parse_ls_remote(listing, "v9") is None


def test_unset_is_the_shipped_backend():
    assert resolve_backend_source(None, None).kind == SHIPPED


@pytest.mark.parametrize("ref", ["v2", "HEAD", "HEAD~1"])
def test_a_repository_resolves_a_ref_to_its_commit_and_checks_it_out(repository, ref):
    source = resolve_backend_source(str(repository), ref)
    expected = git(repository, "rev-parse", f"{ref}^{{commit}}")
    assert (source.kind, source.commit) == (GIT, expected)
    assert source.image == f"tr4ction/backend:git-{expected[:12]}"
    with build_context(source, repository) as context:
        assert context != repository
        label = "1" if ref == "HEAD~1" else "2"
        assert (context / "Dockerfile").read_text().endswith(f"v={label}\n")
    assert not context.exists()  # the temporary checkout is gone after the build
    assert git(repository, "status", "--porcelain") == ""  # their work tree untouched


def test_a_directory_builds_where_it_is_and_changed_files_change_the_image(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    first = resolve_backend_source(str(tmp_path), None)
    assert first.kind == DIRECTORY and first.commit is None
    with build_context(first, tmp_path) as context:
        assert context == tmp_path
    (tmp_path / "app.py").write_text("print(1)\n")
    assert resolve_backend_source(str(tmp_path), None).image != first.image


@pytest.mark.parametrize("setting, ref, words", [
    ("{tmp}/missing", None, "no such directory"),
    ("{tmp}/empty", None, "has no Dockerfile"),
    ("{tmp}/app", "v9", "--ref v9: no such commit"),
    ("{tmp}/app", "--upload-pack=x", "is not a git ref"),
    ("{tmp}/plain", "v1", "is a directory, not a git repository"),
    ("", "v1", "--ref needs TR4CTL_BACKEND_SOURCE"),
])
def test_a_setting_or_ref_that_names_no_build_context_is_bad_input(repository, tmp_path,
                                                                   setting, ref, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(BadInput, match=words.replace("+", r"\+")) as raised:
        resolve_backend_source(setting.format(tmp=tmp_path), ref)
    assert raised.value.hint and "\n" not in raised.value.message


def test_deploy_ref_with_no_repository_is_refused_before_the_engine(project):  # noqa: F811
    result = tr4ctl(project, "deploy", "--ref", "v1")
    assert result.returncode == 2, result.stderr
    assert "--ref needs TR4CTL_BACKEND_SOURCE" in result.stderr
    assert "Traceback" not in result.stderr
    missing = tr4ctl(project, "deploy", env=clean_env(
        TR4CTL_BACKEND_SOURCE=str(project / "nowhere")))
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_a_release_records_its_commit_and_an_older_history_still_reads():
    old = json.dumps({"format": FORMAT, "format_version": 1, "releases": [
        {"id": "r1", "kind": "up", "time": "t", "image": "a", "image_id": None,
         "fingerprint": None, "db_revision": None}]})
    history = parse_history(old)
    assert history.releases[0].commit is None
    history.releases.append(Release(id="r2", kind="deploy", time="t", image="b",
                                    image_id=None, fingerprint=None, db_revision=None,
                                    commit=COMMIT))
    again = parse_history(history.to_json())
    assert json.loads(history.to_json())["format_version"] == 2
    assert again.releases[1].commit == COMMIT
    # a rollback to image b carries b's commit; the source's own build names its own
    assert commit_of_image(again, "b", ("c", "f" * 40)) == COMMIT
    assert commit_of_image(again, "c", ("c", "f" * 40)) == "f" * 40
    assert commit_of_image(History([]), "a", ("c", None)) is None


