"""What `init` (and the first steps of `up`) found, created or fixed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InitReport:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, kind: str, name: str, result: str) -> None:
        self.items.append({"kind": kind, "name": name, "result": result})

    @property
    def created_anything(self) -> bool:
        return any(item["result"] != "exists" for item in self.items)
