"""Images without a registry: which image goes to which destination, and the exact
commands that ask a destination what it holds and load or tag images there. Pure: the
doing is actions/images/ship.py.

A destination (the host, or a swarm node) gets an image only when it lacks that image
id: the same id already there under another name costs a `docker tag`, the same id under
the same name costs nothing. Asking is ONE call per destination: a small shell loop that
prints, for each reference and each id asked, the id it resolves to there or "-".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SEND, TAG, PRESENT = "send", "tag", "present"
MISSING = "-"
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
# Never a secret here: references and ids only (these words are on the host's ps list).
INSPECT_SCRIPT = (
    'command -v docker >/dev/null 2>&1 || { echo "docker is not installed" >&2; exit 127; }; '
    'docker version --format "{{.Server.Version}}" >/dev/null || exit 3; '
    'for ref in "$@"; do '
    'docker image inspect --format "{{.Id}}" "$ref" 2>/dev/null || echo -; '
    'done')


@dataclass(frozen=True)
class LocalImage:
    """An image this side holds: the reference the stack uses, its id, its size."""

    reference: str
    image_id: str
    size: int = 0  # bytes, as the engine reports it (uncompressed): the estimate's base


@dataclass(frozen=True)
class ImageStep:
    reference: str
    image_id: str
    action: str  # SEND, TAG or PRESENT
    size: int = 0


@dataclass(frozen=True)
class DestinationPlan:
    destination: str
    steps: tuple[ImageStep, ...] = field(default_factory=tuple)

    def _with(self, action: str) -> list[ImageStep]:
        return [step for step in self.steps if step.action == action]

    @property
    def to_send(self) -> list[str]:
        return [step.reference for step in self._with(SEND)]

    @property
    def to_tag(self) -> list[ImageStep]:
        return self._with(TAG)

    @property
    def present(self) -> list[str]:
        return [step.reference for step in self._with(PRESENT)]

    @property
    def bytes_to_send(self) -> int:
        """The estimate for progress: each id sent counted once (`docker save` of two
        names of one image writes its layers once)."""
        sizes = {step.image_id: step.size for step in self._with(SEND)}
        return sum(sizes.values())

    @property
    def nothing_to_do(self) -> bool:
        return all(step.action == PRESENT for step in self.steps)


def inspect_queries(images: Sequence[LocalImage]) -> list[str]:
    """What a destination is asked about: each reference, then each distinct id."""
    queries = list(dict.fromkeys(image.reference for image in images))
    return queries + [i for i in dict.fromkeys(image.image_id for image in images)
                      if i not in queries]


def inspect_argv(queries: Sequence[str]) -> list[str]:
    """The one remote call: `sh -c SCRIPT sh QUERY...` (references and ids as arguments,
    never spliced into the script)."""
    return ["sh", "-c", INSPECT_SCRIPT, "sh", *queries]


def parse_inspect_answer(queries: Sequence[str], stdout: str) -> dict[str, str | None]:
    """Each query's id at the destination, or None. ValueError on any answer that is not
    exactly one id or "-" per query: a cut-off or strange answer is refused, never taken
    as "missing" (that would send gigabytes for nothing, or skip what is needed)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if len(lines) != len(queries):
        raise ValueError(f"expected {len(queries)} answer lines, got {len(lines)}")
    answer: dict[str, str | None] = {}
    for query, line in zip(queries, lines, strict=True):
        if line == MISSING:
            answer[query] = None
        elif _IMAGE_ID.match(line):
            answer[query] = line
        else:
            raise ValueError(f"not an image id for {query!r}: {line[:80]!r}")
    return answer


def plan_destination(destination: str, images: Sequence[LocalImage],
                     answer: Mapping[str, str | None]) -> DestinationPlan:
    """For each image: PRESENT when the destination's reference has our id; TAG when
    it holds our id (under any name); else SEND. A reference there with another id (an
    older build under the same tag) is replaced by what is sent."""
    steps = []
    for image in {i.reference: i for i in images}.values():
        if answer.get(image.reference) == image.image_id:
            action = PRESENT
        elif answer.get(image.image_id) == image.image_id:
            action = TAG
        else:
            action = SEND
        steps.append(ImageStep(image.reference, image.image_id, action, image.size))
    return DestinationPlan(destination, tuple(steps))


def plan_shipping(images: Sequence[LocalImage], needs: Mapping[str, Sequence[str]],
                  answers: Mapping[str, Mapping[str, str | None]]) -> list[DestinationPlan]:
    """Every destination's plan. `needs`: destination -> the references it must hold
    (all of them for a host; on a swarm, the backend's for each node that may run a
    replica). `answers`: what each destination said (parse_inspect_answer)."""
    by_reference = {image.reference: image for image in images}
    plans = []
    for destination, references in needs.items():
        unknown = [r for r in references if r not in by_reference]
        if unknown:
            raise ValueError(f"no local image for {', '.join(unknown)}")
        wanted = [by_reference[r] for r in dict.fromkeys(references)]
        plans.append(plan_destination(destination, wanted, answers.get(destination, {})))
    return plans


# -- the commands that change a destination ------------------------------------------------
def save_argv(references: Sequence[str]) -> list[str]:
    """Run on the source: the images as one tar stream on stdout."""
    return ["docker", "save", *references]


def load_argv() -> list[str]:
    """Run on the destination: the tar stream from stdin."""
    return ["docker", "load", "--quiet"]


def tag_argv(image_id: str, reference: str) -> list[str]:
    return ["docker", "tag", image_id, reference]


# -- progress ---------------------------------------------------------------------------
def progress_text(destination: str, sent: int, total: int) -> str:
    """`sent 120.0 MiB of ~310.4 MiB (39%) to HOST`: the total is an estimate (the
    engine's uncompressed size; the tar stream differs a little), so never above 99%
    until the end."""
    if total <= 0:
        return f"sent {_mib(sent)} to {destination}"
    percent = min(99, int(sent * 100 / total))
    return f"sent {_mib(sent)} of ~{_mib(total)} ({percent}%) to {destination}"


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"


# -- a swarm's nodes ----------------------------------------------------------------------
SSH_LABEL = "io.tr4ctl.ssh"  # ssh://user@address: how this manager reaches the node
DOCKER_HOST_LABEL = "io.tr4ctl.docker-host"  # unix://...: a node engine on this machine


@dataclass(frozen=True)
class NodeReach:
    name: str  # the node's hostname, for messages
    node_id: str
    ssh: str | None = None
    docker_host: str | None = None

    @property
    def reachable(self) -> bool:
        return bool(self.ssh or self.docker_host)


def nodes_to_ship_to(nodes: Sequence[Mapping], this_node: str) -> list[NodeReach]:
    """Every other node a replica may be placed on (ready and active: a drained or down
    node gets none), with how it is reached (its labels). ValueError on a label that is
    not an address of its kind."""
    found = []
    for node in nodes:
        spec = node.get("Spec") or {}
        if node.get("ID") == this_node or spec.get("Availability") != "active" \
                or (node.get("Status") or {}).get("State") != "ready":
            continue
        labels = spec.get("Labels") or {}
        name = (node.get("Description") or {}).get("Hostname") or node.get("ID", "")[:12]
        docker_host = labels.get(DOCKER_HOST_LABEL)
        if docker_host is not None and not docker_host.startswith("unix:///"):
            raise ValueError(f"node {name}: {DOCKER_HOST_LABEL}={docker_host!r} is not a "
                             f"unix:// socket (a node elsewhere is reached by {SSH_LABEL})")
        found.append(NodeReach(name, node.get("ID", ""), labels.get(SSH_LABEL), docker_host))
    return found
