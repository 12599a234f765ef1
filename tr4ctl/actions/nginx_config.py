"""Put a new nginx config in place without ever leaving nginx without a working one.

nginx reads its files only on start and reload, so the new file can be written, tested
inside the running container (`nginx -t`) and then reloaded; on any failure the old
file is put back (and reloaded if needed) before the error is raised.
"""

from __future__ import annotations

import time

from tr4ctl.cli.context import AppContext
from tr4ctl.errors import OperationFailed
from tr4ctl.files import write_atomic

HEALTH_URL = "http://127.0.0.1:8081/"


def active_nginx_mode(ctx: AppContext) -> str | None:
    """The mode named in the header of the config file nginx is serving."""
    conf = ctx.paths.nginx_conf
    if not conf.exists():
        return None
    first_line = conf.read_text(encoding="utf-8").splitlines()[:1]
    prefix = "# tr4ctl nginx config: "
    return first_line[0][len(prefix):].strip() if first_line and first_line[0].startswith(prefix) else None


def nginx_running(ctx: AppContext) -> bool:
    return ctx.engine.service_states(("nginx",))["nginx"].state == "running"


def apply_nginx_config(ctx: AppContext, new_text: str) -> str:
    """Returns "unchanged", "written" (nginx not running) or "reloaded"."""
    conf = ctx.paths.nginx_conf
    previous = conf.read_text(encoding="utf-8") if conf.exists() else None
    if previous == new_text:
        return "unchanged"
    if not nginx_running(ctx):
        write_atomic(conf, new_text)
        return "written"

    write_atomic(conf, new_text)
    tested = ctx.engine.exec_in("nginx", ["nginx", "-t"], check=False)
    if tested.returncode != 0:
        _restore(ctx, previous, reload=False)
        raise OperationFailed(
            "nginx rejected the new config; the previous config is still serving",
            "fix the template or settings and try again",
            details=_nginx_error(tested.stderr),
        )
    reloaded = ctx.engine.exec_in("nginx", ["nginx", "-s", "reload"], check=False)
    if reloaded.returncode != 0 or not _serving(ctx, _mode_of(new_text)):
        _restore(ctx, previous, reload=True)
        raise OperationFailed(
            "nginx did not take the new config; the previous config was restored",
            "see `tr4ctl logs nginx`",
            details=_nginx_error(reloaded.stderr),
        )
    return "reloaded"


def reload_nginx(ctx: AppContext) -> None:
    ctx.engine.exec_in("nginx", ["nginx", "-s", "reload"])


def _restore(ctx: AppContext, previous: str | None, *, reload: bool) -> None:
    if previous is None:
        ctx.paths.nginx_conf.unlink(missing_ok=True)
        return
    write_atomic(ctx.paths.nginx_conf, previous)
    if reload:
        ctx.engine.exec_in("nginx", ["nginx", "-s", "reload"], check=False)


def _mode_of(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first.rsplit(":", 1)[-1].strip()


def _serving(ctx: AppContext, mode: str, timeout: float = 5.0) -> bool:
    """A reload is asynchronous: wait until the workers answer with the new config."""
    deadline = time.monotonic() + timeout
    probe = ["sh", "-c", f"curl -fsS {HEALTH_URL} 2>/dev/null || wget -qO- {HEALTH_URL}"]
    while time.monotonic() < deadline:
        answer = ctx.engine.exec_in("nginx", probe, check=False).stdout.strip()
        if answer == f"ok {mode}":
            return True
        time.sleep(0.1)
    return False


def _nginx_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "[emerg]" in line or "[error]" in line]
    return "\n".join(lines or stderr.strip().splitlines()[-3:])
