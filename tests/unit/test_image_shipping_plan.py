"""What goes where without a registry (plan/image_shipping.py): only ids a destination
lacks are sent, an id it holds under another name is only tagged."""

from __future__ import annotations

import subprocess

import pytest

from tr4ctl.plan import image_shipping as plan
from tr4ctl.plan.image_shipping import PRESENT, SEND, TAG, LocalImage

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64
OLD = "sha256:" + "0" * 64
BACKEND = LocalImage("tr4ction/backend:abc", A, 300 << 20)
NGINX = LocalImage("tr4ctl-local/nginx:1.22", B, 180 << 20)
CHROMA = LocalImage("tr4ctl-local/chroma:1.5.9", C, 700 << 20)


def actions(destination_plan) -> dict[str, str]:
    return {step.reference: step.action for step in destination_plan.steps}


def test_a_destination_with_nothing_gets_everything():
    queries = plan.inspect_queries([BACKEND, NGINX])
    answer = plan.parse_inspect_answer(queries, "-\n-\n-\n-\n")
    result = plan.plan_destination("host", [BACKEND, NGINX], answer)
    assert actions(result) == {BACKEND.reference: SEND, NGINX.reference: SEND}
    assert result.to_send == [BACKEND.reference, NGINX.reference]
    assert result.bytes_to_send == (300 + 180) << 20
    assert not result.nothing_to_do


def test_the_same_id_under_the_same_name_is_not_sent():
    answer = {BACKEND.reference: A, A: A, NGINX.reference: None, B: None}
    result = plan.plan_destination("host", [BACKEND, NGINX], answer)
    assert actions(result) == {BACKEND.reference: PRESENT, NGINX.reference: SEND}
    assert result.present == [BACKEND.reference]
    assert result.bytes_to_send == 180 << 20


def test_the_same_id_under_another_name_gets_only_a_tag():
    # The host built or loaded the same image as tr4ction/backend:other.
    answer = {BACKEND.reference: None, A: A}
    result = plan.plan_destination("host", [BACKEND], answer)
    assert actions(result) == {BACKEND.reference: TAG}
    assert result.to_send == [] and result.bytes_to_send == 0
    assert plan.tag_argv(A, BACKEND.reference) == ["docker", "tag", A, BACKEND.reference]


def test_the_same_name_with_another_id_is_sent_again():
    answer = {BACKEND.reference: OLD, A: None}
    assert actions(plan.plan_destination("host", [BACKEND], answer)) == {
        BACKEND.reference: SEND}


def test_everything_present_is_nothing_to_do():
    answer = {BACKEND.reference: A, A: A}
    assert plan.plan_destination("host", [BACKEND], answer).nothing_to_do


def test_two_names_of_one_image_count_once_in_the_estimate():
    alias = LocalImage("tr4ction/backend:latest", A, 300 << 20)
    result = plan.plan_destination("host", [BACKEND, alias], {})
    assert result.to_send == [BACKEND.reference, alias.reference]
    assert result.bytes_to_send == 300 << 20


def test_a_swarm_ships_only_to_the_nodes_that_need_it_and_lack_it():
    needs = {"node-a": [BACKEND.reference], "node-b": [BACKEND.reference]}
    answers = {"node-a": {BACKEND.reference: A, A: A},
               "node-b": {BACKEND.reference: OLD, A: None}}
    plans = {p.destination: p for p in plan.plan_shipping([BACKEND, NGINX], needs, answers)}
    assert plans["node-a"].nothing_to_do
    assert plans["node-b"].to_send == [BACKEND.reference]
    # nginx runs on the manager only: it is never asked of a worker.
    assert all(step.reference != NGINX.reference for p in plans.values() for step in p.steps)


def test_a_needed_reference_without_a_local_image_is_refused():
    with pytest.raises(ValueError, match="no local image for other:1"):
        plan.plan_shipping([BACKEND], {"host": ["other:1"]}, {})


def test_queries_are_each_reference_then_each_distinct_id():
    alias = LocalImage("tr4ction/backend:latest", A)
    assert plan.inspect_queries([BACKEND, alias, NGINX]) == [
        BACKEND.reference, alias.reference, NGINX.reference, A, B]


@pytest.mark.parametrize("stdout, problem", [
    ("-\n", "expected 2 answer lines, got 1"),           # cut off
    ("-\n-\n-\n", "expected 2 answer lines, got 3"),
    (f"{A}\nError: something\n", "not an image id"),
    (f"{A[:20]}\n-\n", "not an image id"),
])
def test_an_answer_that_is_not_one_id_or_dash_per_query_is_refused(stdout, problem):
    with pytest.raises(ValueError, match=problem):
        plan.parse_inspect_answer(["ref:1", A], stdout)


def test_the_inspect_call_passes_references_as_arguments_never_in_the_script():
    argv = plan.inspect_argv(["x:1; rm -rf /", A])
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["sh", "x:1; rm -rf /", A]
    assert "x:1" not in argv[2]


def test_the_inspect_script_answers_one_line_per_query(tmp_path):
    """The script itself, run by a real shell against a stand-in `docker` that knows
    one reference and one id."""
    fake = tmp_path / "docker"
    fake.write_text(f"""#!/bin/sh
[ "$1" = version ] && exit 0
case "$5" in
  known:1|{A}) echo {A} ;;
  *) echo "Error: No such image: $5" >&2; exit 1 ;;
esac
""")
    fake.chmod(0o755)
    queries = ["known:1", "unknown:2", A, B]
    done = subprocess.run(plan.inspect_argv(queries), capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert plan.parse_inspect_answer(queries, done.stdout) == {
        "known:1": A, "unknown:2": None, A: A, B: None}
    assert done.stderr == ""


def test_progress_says_bytes_sent_of_the_estimate_and_never_100_before_the_end():
    assert plan.progress_text("ssh://h", 150 << 20, 300 << 20) == \
        "sent 150.0 MiB of ~300.0 MiB (50%) to ssh://h"
    assert "(99%)" in plan.progress_text("ssh://h", 400 << 20, 300 << 20)
    assert plan.progress_text("ssh://h", 1 << 20, 0) == "sent 1.0 MiB to ssh://h"


def node(node_id, name, *, availability="active", state="ready", **labels):
    return {"ID": node_id, "Description": {"Hostname": name},
            "Spec": {"Availability": availability, "Labels": labels},
            "Status": {"State": state}}


def test_a_swarm_ships_to_every_other_ready_active_node_reached_by_its_label():
    nodes = [node("m1", "manager"),
             node("w1", "worker-1", **{plan.SSH_LABEL: "ssh://root@10.0.0.6"}),
             node("w2", "worker-2", **{plan.DOCKER_HOST_LABEL: "unix:///run/w2.sock"}),
             node("w3", "worker-3"),
             node("w4", "drained", availability="drain", **{plan.SSH_LABEL: "ssh://x@y.z"}),
             node("w5", "lost", state="down", **{plan.SSH_LABEL: "ssh://x@y.z"})]
    found = plan.nodes_to_ship_to(nodes, "m1")
    assert [(n.name, n.ssh, n.docker_host, n.reachable) for n in found] == [
        ("worker-1", "ssh://root@10.0.0.6", None, True),
        ("worker-2", None, "unix:///run/w2.sock", True),
        ("worker-3", None, None, False)]


def test_a_docker_host_label_other_than_a_unix_socket_is_refused():
    with pytest.raises(ValueError, match="not a unix:// socket"):
        plan.nodes_to_ship_to([node("w1", "worker-1", **{
            plan.DOCKER_HOST_LABEL: "tcp://10.0.0.6:2375"})], "m1")
