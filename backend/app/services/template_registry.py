"""The template registry: the image files under TEMPLATES_IMAGES_DIR."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}


def list_template_images(root: Path) -> list[dict]:
    if not root.is_dir():
        return []
    images = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            images.append(
                {"name": path.stem, "path": relative.as_posix(), "size_bytes": path.stat().st_size}
            )
    return images
