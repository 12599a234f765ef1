"""TR4CTL_BACKEND_SOURCE resolved: the folder the backend image is built from, the commit
it is built at (git), the image it builds. Git runs here, read-only on the operator's
repository: a ref is checked out into a temporary clone, never in their work tree."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tr4ctl.errors import BadInput, MissingPrerequisite, OperationFailed
from tr4ctl.plan import backend_source as plan
from tr4ctl.plan.backend_source import DEFAULT_REF, DIRECTORY, GIT, SHIPPED

GIT_TIMEOUT = 120.0
FIX = "set TR4CTL_BACKEND_SOURCE to a directory with a Dockerfile or a git repository"


@dataclass(frozen=True)
class ResolvedSource:
    kind: str  # SHIPPED, DIRECTORY or GIT
    location: str
    image: str | None  # None: the shipped backend's (assets.backend_image decides)
    commit: str | None = None
    version: str = ""  # the commit's short id, or a directory's files' hash


def resolve_backend_source(location: str | None, ref: str | None) -> ResolvedSource:
    """Pre-flight, no impact: what the setting names, refused (exit 2) when it names no
    build context or the ref no commit."""
    if not location:
        if ref is not None:
            raise BadInput("--ref needs TR4CTL_BACKEND_SOURCE to name a git repository",
                           FIX)
        return ResolvedSource(SHIPPED, "", None)
    remote = plan.is_remote_url(location)
    folder = Path(location).expanduser()
    if not remote and not folder.is_dir():
        raise BadInput(f"TR4CTL_BACKEND_SOURCE {location}: no such directory", FIX)
    kind = plan.source_kind(location, has_git_dir=not remote and (folder / ".git").exists())
    if kind == DIRECTORY:
        if ref is not None:
            raise BadInput(f"--ref: TR4CTL_BACKEND_SOURCE {location} is a directory, not a "
                           "git repository", "leave out --ref, or point the setting at a "
                           "git repository")
        _require_dockerfile(folder, location)
        fingerprint = _fingerprint(folder)
        return ResolvedSource(DIRECTORY, str(folder.resolve()),
                              plan.source_image(DIRECTORY, commit=None, fingerprint=fingerprint),
                              version=fingerprint)
    where = location if remote else str(folder.resolve())
    commit = _commit_of(where, ref or DEFAULT_REF, remote=remote)
    return ResolvedSource(GIT, where, plan.source_image(GIT, commit=commit, fingerprint=None),
                          commit, commit[:12])


@contextmanager
def build_context(source: ResolvedSource, shipped: Path) -> Iterator[Path]:
    """The folder to build from while the build runs: a git source's commit checked out
    into a temporary clone, removed after."""
    if source.kind == SHIPPED:
        yield shipped
        return
    if source.kind == DIRECTORY:
        yield Path(source.location)
        return
    assert source.commit is not None
    with tempfile.TemporaryDirectory(prefix="tr4ctl-backend-") as temporary:
        checkout = str(Path(temporary) / "source")
        _git(plan.clone_argv(source.location, checkout), "clone")
        _git(plan.checkout_argv(checkout, source.commit), "checkout")
        _require_dockerfile(Path(checkout), f"{source.location} at {source.commit[:12]}")
        yield Path(checkout)


def _require_dockerfile(folder: Path, what: str) -> None:
    if not (folder / "Dockerfile").is_file():
        raise BadInput(f"TR4CTL_BACKEND_SOURCE {what} has no Dockerfile", FIX)


def _commit_of(where: str, ref: str, *, remote: bool) -> str:
    if ref.startswith("-"):
        raise BadInput(f"--ref {ref!r} is not a git ref", "give a tag, branch or commit")
    if remote:
        answer = _git(plan.ls_remote_argv(where, ref), "ls-remote", check=False)
        commit = plan.parse_ls_remote(answer.stdout, ref) if answer.returncode == 0 else None
    else:
        answer = _git(plan.rev_parse_argv(where, ref), "rev-parse", check=False)
        commit = plan.parse_rev_parse(answer.stdout) if answer.returncode == 0 else None
    if commit is None:
        raise BadInput(f"--ref {ref}: no such commit, branch or tag in {where}",
                       f"`git -C {where} log --oneline` lists the commits" if not remote
                       else "`git ls-remote` lists the refs")
    return commit


def _git(argv: list[str], what: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        answer = subprocess.run(argv, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                stdin=subprocess.DEVNULL,
                                env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"})
    except FileNotFoundError:
        raise MissingPrerequisite("git is not installed", "install git (apt-get install "
                                  "git) to build the backend from a repository") from None
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"git {what} took over {GIT_TIMEOUT:.0f} s",
                              "check the repository is reachable") from None
    if check and answer.returncode != 0:
        raise OperationFailed(f"git {what} failed",
                              "check TR4CTL_BACKEND_SOURCE and the ref",
                              details=answer.stderr.strip() or None)
    return answer


def _fingerprint(folder: Path) -> str:
    """A short hash of a directory source's files: changed files build a new image."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(folder).parts \
                or "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
