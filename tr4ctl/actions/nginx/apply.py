"""Put a new nginx config in place without ever leaving nginx without a working one.

nginx reads its files only on start and reload, so the new file can be written, tested
inside the running container (`nginx -t`) and then reloaded; on any failure the old
file is put back (and reloaded if needed) before the error is raised.
"""

from __future__ import annotations

import time

from tr4ctl.errors import OperationFailed
from tr4ctl.facts import NGINX_HEALTH_PORT
from tr4ctl.files import write_atomic
from tr4ctl.runtime import Runtime

HEALTH_URL = f"http://127.0.0.1:{NGINX_HEALTH_PORT}/"
MODE_HEADER = "# tr4ctl nginx config: "
MAINTENANCE_HEADER = "# tr4ctl maintenance: on"
MAINTENANCE_SUFFIX = " maintenance"


def active_nginx_mode(rt: Runtime) -> str | None:
    """The mode named in the header of the config file nginx is serving."""
    conf = rt.paths.nginx_conf
    if not conf.exists():
        return None
    return mode_of(conf.read_text(encoding="utf-8"))


def mode_of(config_text: str) -> str | None:
    first_line = config_text.splitlines()[:1]
    if first_line and first_line[0].startswith(MODE_HEADER):
        return first_line[0][len(MODE_HEADER):].strip()
    return None


def served_label(config_text: str) -> str | None:
    """What nginx's health listener answers after "ok " once it serves this config: the
    mode, and " maintenance" while maintenance mode is on (a reload is proven taken)."""
    mode = mode_of(config_text)
    on = MAINTENANCE_HEADER in config_text.splitlines()[:3]
    return None if mode is None else mode + (MAINTENANCE_SUFFIX if on else "")


def nginx_running(rt: Runtime) -> bool:
    return rt.engine.service_states(("nginx",))["nginx"].state == "running"


def apply_nginx_config(rt: Runtime, new_text: str) -> str:
    """Returns "unchanged", "written" (nginx not running) or "reloaded"."""
    conf = rt.paths.nginx_conf
    previous = conf.read_text(encoding="utf-8") if conf.exists() else None
    if previous == new_text:
        return "unchanged"
    if not nginx_running(rt):
        write_atomic(conf, new_text)
        return "written"

    write_atomic(conf, new_text)
    tested = rt.engine.exec_in("nginx", ["nginx", "-t"], check=False)
    if tested.returncode != 0:
        _restore(rt, previous, reload=False)
        raise OperationFailed(
            "nginx rejected the new config; the previous config is still serving",
            "fix the template or settings and try again",
            details=_nginx_error(tested.stderr),
        )
    reloaded = rt.engine.exec_in("nginx", ["nginx", "-s", "reload"], check=False)
    if reloaded.returncode != 0 or not _serving(rt, served_label(new_text)):
        _restore(rt, previous, reload=True)
        raise OperationFailed(
            "nginx did not take the new config; the previous config was restored",
            "see `tr4ctl logs nginx`",
            details=_nginx_error(reloaded.stderr),
        )
    return "reloaded"


def reload_nginx(rt: Runtime) -> None:
    rt.engine.exec_in("nginx", ["nginx", "-s", "reload"])


def reload_and_check(rt: Runtime) -> None:
    """Reload for new certificate files under the same config; fail loudly if nginx refuses."""
    tested = rt.engine.exec_in("nginx", ["nginx", "-t"], check=False)
    if tested.returncode != 0:
        raise OperationFailed("nginx rejects its config with the new certificate; not reloaded",
                              "the previous certificate is still served; see the error below",
                              details=_nginx_error(tested.stderr))
    reload_nginx(rt)


def health_answer(rt: Runtime) -> str:
    """What nginx's own health listener says ("ok <mode>"), from inside its container."""
    probe = ["sh", "-c", f"curl -fsS {HEALTH_URL} 2>/dev/null || wget -qO- {HEALTH_URL}"]
    return rt.engine.exec_in("nginx", probe, check=False).stdout.strip()


def _restore(rt: Runtime, previous: str | None, *, reload: bool) -> None:
    if previous is None:
        rt.paths.nginx_conf.unlink(missing_ok=True)
        return
    write_atomic(rt.paths.nginx_conf, previous)
    if reload:
        rt.engine.exec_in("nginx", ["nginx", "-s", "reload"], check=False)


def _serving(rt: Runtime, label: str | None, timeout: float = 10.0) -> bool:
    """A reload is asynchronous: wait until the workers answer with the new config."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health_answer(rt) == f"ok {label}":
            return True
        time.sleep(0.1)
    return False


def _nginx_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "[emerg]" in line or "[error]" in line]
    return "\n".join(lines or stderr.strip().splitlines()[-3:])
