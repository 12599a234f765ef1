"""The pure plans of `host bootstrap` (which steps still have work, from one probe of the
host) and `host check` (the verdicts), without any host."""

from __future__ import annotations

import pytest

from tr4ctl.config.values import host_path_problem
from tr4ctl.errors import ExitCode
from tr4ctl.plan import host_bootstrap as hb
from tr4ctl.plan import host_check as hc

DEBIAN_13 = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_ID="13"\nID=debian'
TRIXIE = hb.HostSystem("Debian 13 (trixie)", "python3", ("python3", "python3-venv"))


def probe_answer(*, engine="", compose="", packages=(), tr4ctl="", host_dir="") -> str:
    lines = [f"os-release={line}" for line in DEBIAN_13.splitlines()]
    lines += [f"engine={engine}", f"compose={compose}", "docker-ce="]
    lines += [f"package={name} ii " for name in packages]
    lines += ["package=python3.11 un ", f"tr4ctl={tr4ctl}", f"host-dir={host_dir}", "end=ok"]
    return "\n".join(lines) + "\n"


def steps(answer: str, version: str = "0.1.0") -> dict[str, hb.BootstrapStep]:
    facts = hb.parse_probe(answer)
    return {s.name: s for s in hb.plan_bootstrap(facts, TRIXIE, version, "/srv/tr4ction")}


def test_a_fresh_host_needs_every_step():
    planned = steps(probe_answer(packages=["python3"]))
    assert [s.name for s in planned.values()] == ["docker", "python", "tr4ctl", "project dir"]
    assert all(s.needed for s in planned.values())
    assert planned["python"].detail == "install python3-venv"
    assert planned["tr4ctl"].detail == "install tr4ctl 0.1.0 (none there yet)"
    assert "no answering engine and no compose v2 plugin" in planned["docker"].detail


def test_a_bootstrapped_host_needs_nothing():
    planned = steps(probe_answer(engine="26.1.5+dfsg1", compose="2.26.1",
                                 packages=["python3", "python3-venv"], tr4ctl="tr4ctl 0.1.0",
                                 host_dir="700 0 0 directory"))
    assert not any(s.needed for s in planned.values())
    assert planned["docker"].detail == "engine 26.1.5+dfsg1, compose 2.26.1"
    assert planned["project dir"].detail == "/srv/tr4ction (root, 0700)"


def test_an_engine_without_compose_is_kept_and_only_compose_is_missing():
    docker = steps(probe_answer(engine="20.10.24"))["docker"]
    assert docker.needed
    assert docker.detail == "no answering compose v2 plugin; keeps engine 20.10.24: provision-docker.sh"


def test_another_tr4ctl_version_is_replaced():
    tr4ctl = steps(probe_answer(tr4ctl="tr4ctl 0.0.9"), version="0.1.0")["tr4ctl"]
    assert tr4ctl.needed and tr4ctl.detail == "install tr4ctl 0.1.0 (replaces 0.0.9)"


@pytest.mark.parametrize("found", ["755 0 0 directory", "700 1000 1000 directory"])
def test_a_project_dir_others_may_read_or_own_is_made_roots_0700(found):
    step = steps(probe_answer(host_dir=found))["project dir"]
    assert step.needed and step.detail.startswith("make /srv/tr4ction root's, 0700")


def test_a_file_where_the_project_dir_goes_is_refused():
    with pytest.raises(ValueError, match="is a regular file, not a folder"):
        steps(probe_answer(host_dir="644 0 0 regular file"))


@pytest.mark.parametrize("answer", ["", "engine=26\n", probe_answer().replace("end=ok\n", ""),
                                    "surprise\nend=ok\n", "weird=1\nend=ok\n"])
def test_a_cut_off_or_foreign_probe_answer_is_refused(answer):
    with pytest.raises(ValueError):
        hb.parse_probe(answer)


def test_the_probe_keeps_os_release_for_host_packages():
    assert hb.parse_probe(probe_answer()).os_release == DEBIAN_13


@pytest.mark.parametrize("path", ["srv/tr4ction", "/", "/srv/../etc", "/srv/a b", "/srv//x"])
def test_bad_host_dirs_are_refused(path):
    assert host_path_problem(path)


def test_a_plain_host_dir_is_taken():
    assert host_path_problem("/srv/tr4ction") is None


def test_version_lines():
    assert hb.parse_version_line("tr4ctl 0.1.0\n") == "0.1.0"
    with pytest.raises(ValueError):
        hb.parse_version_line("Traceback ...")


def test_the_scripts_summary_line_is_found_without_its_tag():
    stderr = "noise\n[provision] Debian 13 (trixie): installed docker.io\n"
    assert hb.last_log_line(stderr, "[provision]") == "Debian 13 (trixie): installed docker.io"
    assert hb.last_log_line("nothing", "[provision]") == ""


# -- host check ---------------------------------------------------------------------------
def test_records_pointing_at_the_host_pass():
    check = hc.dns_check("site.example", ["203.0.113.10"], ["203.0.113.10"])
    assert check.verdict == hc.OK


def test_a_stray_aaaa_record_fails_naming_it():
    check = hc.dns_check("site.example", ["203.0.113.10", "2001:db8::1"], ["203.0.113.10"])
    assert check.verdict == hc.FAIL
    assert "remove 2001:db8::1" in check.fix


def test_records_pointing_elsewhere_or_none_fail():
    assert hc.dns_check("site.example", ["198.51.100.7"], ["203.0.113.10"]).verdict == hc.FAIL
    assert hc.dns_check("site.example", [], ["203.0.113.10"]).verdict == hc.FAIL
    failed = hc.dns_check("site.example", [], [], lookup_error="Name or service not known")
    assert failed.verdict == hc.FAIL and "Name or service not known" in failed.detail


def test_no_domain_is_a_warning_naming_the_setting():
    check = hc.dns_check(None, [], [])
    assert check.verdict == hc.WARN and "TR4CTL_DOMAIN" in check.fix


def test_ports():
    assert hc.port_check(80, "203.0.113.10", None).verdict == hc.OK
    closed = hc.port_check(443, "203.0.113.10", "Connection refused", refused=True)
    assert closed.verdict == hc.FAIL and closed.detail == "203.0.113.10:443: Connection refused"


def test_a_refused_port_the_stack_does_not_serve_yet_is_a_warning_naming_the_step():
    early = hc.port_check(80, "203.0.113.10", "Connection refused", refused=True, served=False)
    assert early.verdict == hc.WARN and "nothing listens there yet" in early.detail
    assert early.fix == "run `tr4ctl host check` again after `tr4ctl up --env prod`"
    pending = hc.port_check(443, "203.0.113.10", "Connection refused", refused=True,
                            served=False)
    assert pending.verdict == hc.WARN and "`tr4ctl cert issue`" in pending.fix
    # A drop (a firewall, a security group) is a timeout: a failure whatever the stack.
    dropped = hc.port_check(80, "203.0.113.10", "no answer within 3 s", served=False)
    assert dropped.verdict == hc.FAIL


@pytest.mark.parametrize(("status", "served"), [
    (None, set()),
    ({"services": [{"service": "nginx", "state": "exited"}]}, set()),
    ({"services": [{"service": "nginx", "state": "running"}], "nginx_config": "dev"}, {80}),
    ({"services": [{"service": "nginx", "state": "running"}], "nginx_config": "prod",
      "https_pending": True}, {80}),
    ({"services": [{"service": "nginx", "state": "running"}], "nginx_config": "prod",
      "https_pending": False}, {80, 443}),
])
def test_the_ports_a_stack_serves(status, served):
    assert hc.served_ports(status) == served


@pytest.mark.parametrize(("offset", "round_trip", "verdict"), [
    (0.2, 0.05, hc.OK), (-4.9, 0.01, hc.OK), (6.0, 0.01, hc.FAIL), (-30.0, 0.5, hc.FAIL),
    (5.4, 1.0, hc.OK),  # within the limit once the round trip's doubt is counted
])
def test_clock(offset, round_trip, verdict):
    assert hc.clock_check(offset, round_trip).verdict == verdict


def test_disk_space_warns_under_5_gib_or_10_percent():
    gib = 1024**3
    assert hc.disk_check("docker", "/var/lib/docker",
                         hc.DiskSpace("/var/lib/docker", 50 * gib, 100 * gib)).verdict == hc.OK
    assert hc.disk_check("docker", "/d", hc.DiskSpace("/d", 4 * gib, 20 * gib)).verdict == hc.WARN
    assert hc.disk_check("docker", "/d", hc.DiskSpace("/d", 9 * gib, 100 * gib)).verdict == hc.WARN
    assert hc.disk_check("project", "/srv/tr4ction", None).verdict == hc.WARN


def test_facts_are_read_strictly():
    facts = hc.parse_facts("docker-root=/var/lib/docker\n"
                           "disk=1000 4000 /var/lib/docker\ndisk=10 20 /srv/my dir\nend=ok\n")
    assert facts.docker_root == "/var/lib/docker"
    assert facts.disks["/srv/my dir"] == hc.DiskSpace("/srv/my dir", 10, 20)
    for cut in ("docker-root=/x\n", "disk=x y /z\nend=ok\n", "other=1\nend=ok\n"):
        with pytest.raises(ValueError):
            hc.parse_facts(cut)


def test_only_a_failed_check_fails_the_command():
    warn = hc.HostCheck("dns", hc.WARN, "")
    fail = hc.HostCheck("port 80", hc.FAIL, "")
    assert hc.check_exit_code([warn]) == ExitCode.OK
    assert hc.check_exit_code([warn, fail]) == ExitCode.FAILED
