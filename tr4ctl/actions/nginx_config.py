"""Put a new nginx config in place without ever leaving nginx without a working one.

nginx reads its files only on start and reload, so the new file can be written, tested
inside the running container (`nginx -t`) and then reloaded; on any failure the old
file is put back (and reloaded if needed) before the error is raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tr4ctl.cli.context import AppContext
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.files import write_atomic
from tr4ctl.plan.environments import NginxMode

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


def reload_and_check(ctx: AppContext) -> None:
    """Reload for new certificate files under the same config; fail loudly if nginx refuses."""
    tested = ctx.engine.exec_in("nginx", ["nginx", "-t"], check=False)
    if tested.returncode != 0:
        raise OperationFailed("nginx rejects its config with the new certificate; not reloaded",
                              "the previous certificate is still served; see the error below",
                              details=_nginx_error(tested.stderr))
    reload_nginx(ctx)


@dataclass(frozen=True)
class NginxUse:
    mode: str
    result: str  # unchanged, written, reloaded
    previous: str | None


def use_nginx_mode(ctx: AppContext, mode: NginxMode, *,
                   domain_override: str | None = None) -> NginxUse:
    """Render the config for a mode and put it in place safely (see apply_nginx_config).

    prod needs the domain's certificate: nginx would refuse to load the config without
    it, so that is refused up front with the command that gets one.
    """
    from tr4ctl.actions.certificates import certificate_present
    from tr4ctl.plan.stack import render_nginx

    settings = ctx.settings
    if domain_override is not None:
        settings = settings.model_copy(update={"domain": domain_override})
    # Rendering first: a broken template or a missing value changes nothing.
    text = render_nginx(settings, mode)
    ctx.engine.require_engine()
    if not ctx.paths.compose_file.exists():
        raise BadInput("this project has no stack yet", "run `tr4ctl up` first")
    if not nginx_running(ctx):
        raise BadInput("nginx is not running: there is nothing to switch",
                       "run `tr4ctl up --env dev` or `tr4ctl up --env prod` first")
    if mode is NginxMode.PROD and not certificate_present(ctx, settings.domain):
        email = settings.email or "you@example.com"
        raise BadInput(f"no certificate for {settings.domain} yet: nginx prod cannot serve HTTPS",
                       f"run `tr4ctl cert issue --domain {settings.domain} --email {email}`")
    previous = active_nginx_mode(ctx)
    result = apply_nginx_config(ctx, text)
    return NginxUse(mode.value, result, previous)


@dataclass(frozen=True)
class NginxStatus:
    config: str | None  # the mode written in the config file
    serving: str | None  # the mode nginx's health listener answers with
    nginx_state: str
    config_file: str
    tls_domains: list[str]

    @property
    def in_sync(self) -> bool:
        return self.config is not None and self.config == self.serving


def nginx_status(ctx: AppContext) -> NginxStatus:
    from tr4ctl.plan.certificates import tls_domains_in_config

    conf = ctx.paths.nginx_conf
    text = conf.read_text(encoding="utf-8") if conf.exists() else ""
    state = "absent"
    serving = None
    if ctx.paths.compose_file.exists():
        ctx.engine.require_engine()
        state = ctx.engine.service_states(("nginx",))["nginx"].state
        if state == "running":
            serving = _health_answer(ctx).removeprefix("ok ").strip() or None
    return NginxStatus(active_nginx_mode(ctx), serving, state, str(conf),
                       tls_domains_in_config(text))


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


def _serving(ctx: AppContext, mode: str, timeout: float = 10.0) -> bool:
    """A reload is asynchronous: wait until the workers answer with the new config."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _health_answer(ctx) == f"ok {mode}":
            return True
        time.sleep(0.1)
    return False


def _health_answer(ctx: AppContext) -> str:
    probe = ["sh", "-c", f"curl -fsS {HEALTH_URL} 2>/dev/null || wget -qO- {HEALTH_URL}"]
    return ctx.engine.exec_in("nginx", probe, check=False).stdout.strip()


def _nginx_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "[emerg]" in line or "[error]" in line]
    return "\n".join(lines or stderr.strip().splitlines()[-3:])
