"""Where the backend image is built from (TR4CTL_BACKEND_SOURCE) as data: the shipped
backend/, a directory with a Dockerfile, or a git repository built at a ref.

Pure: the git argv is built here and run by actions/images/backend_source.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHIPPED, DIRECTORY, GIT = "shipped", "directory", "git"
DEFAULT_REF = "HEAD"
IMAGE_REPOSITORY = "tr4ction/backend"
_FULL_COMMIT = re.compile(r"[0-9a-f]{40}")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # SHIPPED, DIRECTORY or GIT
    location: str  # a directory, a repository path or URL ("" when shipped)


def is_remote_url(location: str) -> bool:
    """https://..., ssh://..., git@host:path: a repository that is not a local folder."""
    return bool(_URL.match(location))


def source_kind(location: str, *, has_git_dir: bool) -> str:
    """The kind of a TR4CTL_BACKEND_SOURCE whose folder has (or not) a .git entry."""
    if is_remote_url(location) or location.endswith(".git") or has_git_dir:
        return GIT
    return DIRECTORY


def rev_parse_argv(repository: str, ref: str) -> list[str]:
    """The commit a ref of a local repository names ("--end-of-options": a ref is never
    taken as an option)."""
    return ["git", "-C", repository, "rev-parse", "--verify", "--quiet",
            "--end-of-options", f"{ref}^{{commit}}"]


def ls_remote_argv(url: str, ref: str) -> list[str]:
    return ["git", "ls-remote", "--end-of-options", url, ref]


def clone_argv(location: str, destination: str) -> list[str]:
    return ["git", "clone", "--quiet", "--no-checkout", "--end-of-options", location,
            destination]


def checkout_argv(checkout: str, commit: str) -> list[str]:
    return ["git", "-C", checkout, "checkout", "--quiet", "--detach", commit]


def parse_rev_parse(stdout: str) -> str | None:
    """The 40-hex commit `git rev-parse --verify` printed, or None."""
    line = stdout.strip()
    return line if _FULL_COMMIT.fullmatch(line) else None


def parse_ls_remote(stdout: str, ref: str) -> str | None:
    """The commit of a ref in `git ls-remote` output; a full commit id is taken as it is
    (ls-remote lists refs, not commits)."""
    if _FULL_COMMIT.fullmatch(ref):
        return ref
    for line in stdout.splitlines():
        commit, _, name = line.partition("\t")
        if name in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}") \
                and _FULL_COMMIT.fullmatch(commit):
            return commit
    return None


def source_image(kind: str, *, commit: str | None, fingerprint: str | None) -> str:
    """The image a source builds: tagged by its commit (git) or its files' hash, so a
    changed source always gets a new image."""
    if kind == GIT and commit:
        return f"{IMAGE_REPOSITORY}:git-{commit[:12]}"
    return f"{IMAGE_REPOSITORY}:src-{fingerprint}"
