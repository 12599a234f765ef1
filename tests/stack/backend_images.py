"""Backend images for release tests: the shipped code changed, or a running image broken
on purpose; and what the stack serves and has shipped."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import own_environment

REPO = Path(__file__).resolve().parents[2]


def served_version(stack) -> str:
    return httpx.get(stack.url("/version"), timeout=10).json()["version"]


def releases(stack) -> dict:
    return stack.json("releases")["data"]


@contextmanager
def build_context(tmp_path: Path, *, version: str):
    """A copy of the shipped backend with other code, built as its own image."""
    context = tmp_path / f"backend-{version}"
    shutil.copytree(REPO / "backend", context)
    main = context / "app" / "main.py"
    main.write_text(main.read_text() + f"\n# changed for release {version}\n")
    yield context


def build_image(stack, context: Path, tag: str, version: str) -> str:
    base = stack.json("config", "show")["data"]["settings"]["TR4CTL_BACKEND_BASE_IMAGE"]
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}",
                    "--build-arg", f"BACKEND_VERSION={version}", "-t", tag, str(context)],
                   check=True, capture_output=True, env={**own_environment(),
                                                         "DOCKER_BUILDKIT": "0"})
    return tag


def derived_image(stack, tag: str, dockerfile_tail: str, files: dict[str, str] | None = None,
                  tmp_path: Path | None = None) -> str:
    """An image made from the one running now, with a change (to break it)."""
    current = releases(stack)
    running = next(r["image"] for r in current["releases"] if r["current"]) \
        if current["current"] else stack.json("images", "list")["data"]["images"][0]["image"]
    context = tmp_path / tag.replace(":", "-").replace("/", "-")
    context.mkdir()
    for name, text in (files or {}).items():
        (context / name).write_text(text)
    (context / "Dockerfile").write_text(f"FROM {running}\n{dockerfile_tail}\n")
    subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], check=True,
                   capture_output=True, env={**own_environment(), "DOCKER_BUILDKIT": "0"})
    return tag


def build_missing_backend(images: dict[str, dict], environment: dict[str, str]) -> None:
    """The backend image `images list` names (by role), built here when this machine lacks
    it: an engine of the test's own reaches no package index, and there is no registry."""
    backend = images["backend"]["image"]
    if not images["backend"]["present"]:
        subprocess.run(["docker", "build", "-q", "--build-arg",
                        f"BASE_IMAGE={images['backend base']['image']}", "--build-arg",
                        f"BACKEND_VERSION={backend.rsplit(':', 1)[1]}", "-t", backend,
                        str(REPO / "backend")], check=True, capture_output=True,
                       env={**environment, "DOCKER_BUILDKIT": "0"})
