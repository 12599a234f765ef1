"""When free disk space is too little: one rule for `doctor`, `status` and `verify`.
Pure: it takes what was measured."""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.plan.backup import human_bytes

# Room for an image pull, a backup's staging and a few days of rotated logs.
MIN_FREE_BYTES = 3 * 1024**3
LOW_SPACE_FIX = (f"free at least {MIN_FREE_BYTES // 1024**3} GiB (docker system prune, "
                 "old backups, a smaller TR4CTL_LOG_MAX_SIZE)")


@dataclass(frozen=True)
class FreeSpace:
    place: str  # the folder measured with the least free space
    free_bytes: int

    @property
    def low(self) -> bool:
        return self.free_bytes < MIN_FREE_BYTES

    def describe(self) -> str:
        return f"{human_bytes(self.free_bytes)} free at {self.place}"

    def warning(self) -> str | None:
        """The line `status` and `verify` show, or None while there is room."""
        if not self.low:
            return None
        return (f"disk space low: only {self.describe()} (under "
                f"{human_bytes(MIN_FREE_BYTES)}): {LOW_SPACE_FIX}")


def tightest(measured: dict[str, int]) -> FreeSpace:
    """The place with the least free space among those measured (folder -> free bytes)."""
    place = min(measured, key=lambda name: measured[name])
    return FreeSpace(place, measured[place])
