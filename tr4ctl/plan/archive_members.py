"""What an archive may hold, member by member: an archive is data, never instructions.

Pure: the caller walks the archive (the outer tar and, streamed from it, each volume's
tar) and hands over what each member's header says; these checks say what is wrong.
`backup verify` and restore's pre-flight run the same walk, so an archive that names a
place outside its volume, a device, a FIFO, a link leading out, or more bytes than its
manifest gives, is refused before anything is stopped or extracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FILE = "file"
DIRECTORY = "directory"
SYMLINK = "symlink"
HARDLINK = "hardlink"
ALLOWED_IN_VOLUME = (FILE, DIRECTORY, SYMLINK, HARDLINK)
# What every other kind of member is called in a message (the walk names unknown tar
# types "type X").
KIND_WORDS = {
    "chardev": "a character device",
    "blockdev": "a block device",
    "fifo": "a FIFO",
    DIRECTORY: "a directory",
    SYMLINK: "a symbolic link",
    HARDLINK: "a hard link",
}
# Links followed when resolving one (the kernel's own limit is 40).
MAX_LINK_DEPTH = 40
# Problems kept per tar; the rest are counted.
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Member:
    """One tar member as its header describes it."""

    name: str
    kind: str  # file, directory, symlink, hardlink, chardev, blockdev, fifo, "type X"
    size: int = 0
    linkname: str = ""


def shown(text: str) -> str:
    """A name as it can be printed on one line (a member name is the archive's text)."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, f"an entry of {kind}")


def relative_path(name: str) -> tuple[str | None, str | None]:
    """`./a//b/` -> `a/b` (the volume's root is ``), or None and why it is refused."""
    if not name:
        return None, "an empty name"
    if name.startswith("/"):
        return None, "an absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "a path with '..' (it leads out of the volume)"
    return "/".join(parts), None


# -- the outer tar: the manifest, then one regular file per part -----------------------
def outer_member_problems(member: Member, expected_size: int | None,
                          seen: set[str]) -> list[str]:
    """A member of the archive itself: a regular file the manifest lists, once, no
    larger than the manifest says (`expected_size`, None when it does not list it)."""
    name = shown(member.name)
    if member.kind != FILE:
        return [f"{name}: {kind_words(member.kind)} (a part must be a regular file)"]
    if member.name.startswith("/") or "/" in member.name or member.name in ("", ".", ".."):
        return [f"{name}: not a part name (a path, in the archive itself)"]
    if expected_size is None:
        return [f"{name}: a member the manifest does not list"]
    if member.name in seen:
        return [f"{name}: appears twice"]
    if member.size > expected_size:
        return [f"{name}: {member.size} bytes, more than the {expected_size} its manifest says"]
    return []


# -- a volume's tar ---------------------------------------------------------------------
@dataclass
class VolumeTarCheck:
    """One volume part's tar: `add` each member in archive order, then `problems()` on
    the tree they make (the volume is emptied first, so the tree is exactly these
    members). Allowed: files, directories, symbolic links that resolve inside the
    volume, hard links to an earlier file of the same tar; nothing written through a
    link; file bytes in total within the part's size in the manifest."""

    part: str
    limit: int  # the part's size in the manifest: no tar of it holds more file bytes
    kinds: dict[str, str] = field(default_factory=dict)  # path -> kind (`` is the root)
    links: dict[str, str] = field(default_factory=dict)  # symlink path -> its target text
    total: int = 0
    found: list[str] = field(default_factory=list)
    more: int = 0
    oversized: bool = False

    def _say(self, name: str, problem: str) -> None:
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(f"{self.part}: {shown(name) or '(empty)'}: {problem}")
        else:
            self.more += 1

    def unreadable(self, reason: str) -> None:
        """The part is not a tar this walk can read (crafted: its sha256 matched)."""
        self.found.append(f"{self.part}: not a readable tar ({shown(reason)})")

    def add(self, member: Member) -> None:
        path, problem = relative_path(member.name)
        if path is None:
            self._say(member.name, problem or "refused")
            return
        if member.kind not in ALLOWED_IN_VOLUME:
            self._say(member.name, f"{kind_words(member.kind)} (a volume holds files, "
                                   "directories and links only)")
            return
        if path == "" and member.kind != DIRECTORY:
            self._say(member.name, f"{kind_words(member.kind)} in place of the volume itself")
            return
        previous = self.kinds.get(path)
        if previous is not None and not (previous == DIRECTORY and member.kind == DIRECTORY):
            self._say(member.name, "appears twice (a later member would replace an earlier one)")
            return
        if member.kind == SYMLINK:
            if not member.linkname:
                self._say(member.name, "a link to nothing")
                return
            if member.linkname.startswith("/"):
                self._say(member.name, f"a link out of the volume (-> {shown(member.linkname)})")
                return
            self.links[path] = member.linkname
        elif member.kind == HARDLINK:
            target, _ = relative_path(member.linkname)
            if target is None or self.kinds.get(target) != FILE:
                self._say(member.name, f"a hard link to {shown(member.linkname)}, which is not "
                                       "a file earlier in the volume")
                return
        elif member.kind == FILE:
            if member.size > self.limit:
                self.oversized = True
                self._say(member.name, f"{member.size} bytes, more than the {self.limit} the "
                                       "manifest gives the whole part")
            self.total += max(member.size, 0)
        self.kinds[path] = member.kind

    def problems(self) -> list[str]:
        """What the finished tree would hold that it must not."""
        resolved: dict[str, tuple[str, ...] | None] = {}
        for path, target in self.links.items():
            if self._resolve_link(path, resolved, set()) is None:
                self._say(path, f"a link out of the volume (-> {shown(target)})")
        for path in self.kinds:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                ancestor = "/".join(parts[:depth])
                if ancestor in self.links:
                    self._say(path, f"written through the link {shown(ancestor)}")
                    break
        if self.total > self.limit and not self.oversized:
            self.found.append(f"{self.part}: its files hold {self.total} bytes, more than the "
                              f"{self.limit} the manifest gives the whole part")
        if self.more:
            self.found.append(f"{self.part}: {self.more} more problems")
        return list(self.found)

    def _resolve_link(self, path: str, resolved: dict[str, tuple[str, ...] | None],
                      busy: set[str]) -> tuple[str, ...] | None:
        """Where the link at `path` leads, as a path from the volume's root, following
        the archive's own links; None when it leads out (or loops, or goes too deep)."""
        if path in resolved:
            return resolved[path]
        if path in busy or len(busy) >= MAX_LINK_DEPTH:
            return None
        busy.add(path)
        current = path.split("/")[:-1]
        result: tuple[str, ...] | None = None
        for component in self.links[path].split("/"):
            if component in ("", "."):
                continue
            if component == "..":
                if not current:
                    break
                current.pop()
                continue
            current.append(component)
            joined = "/".join(current)
            if joined in self.links:
                through = self._resolve_link(joined, resolved, busy)
                if through is None:
                    break
                current = list(through)
        else:
            result = tuple(current)
        busy.discard(path)
        resolved[path] = result
        return result
