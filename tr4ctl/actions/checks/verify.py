"""`tr4ctl verify`: the deployment checklist operators ticked by hand, and the security
checklist, run live. Each item is a check with a verdict and its evidence.

It only reads, unless asked for the one check that changes something (--restart): the
backend restarted once to prove the data volume survives. Login attempts use a throwaway
account name, so no real account is ever tried, failed against or locked out.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tr4ctl.actions.checks.backend_parts import image_parts
from tr4ctl.actions.checks.health import probe_in_network, service_processes
from tr4ctl.actions.checks.host_http import HostClient, describe_error
from tr4ctl.actions.disk_space import free_space
from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.actions.preflight import require_stack_running
from tr4ctl.actions.users.list import list_accounts
from tr4ctl.actions.users.manage import run_manage
from tr4ctl.docker.health import wait_healthy
from tr4ctl.errors import Tr4ctlError
from tr4ctl.facts import BACKEND_DATA_DIR
from tr4ctl.plan.backend_contract import (
    ACCOUNTS,
    READY,
    REQUEST_ID,
    not_provided,
    not_provided_reason,
)
from tr4ctl.plan.backup import human_bytes
from tr4ctl.plan.disk_space import MIN_FREE_BYTES
from tr4ctl.plan.environments import (
    HTTPS_PENDING_ADVICE,
    HTTPS_PENDING_FIX,
    HTTPS_PENDING_SHORT,
    https_pending,
)
from tr4ctl.plan.probe import ProbeResult
from tr4ctl.plan.services import ServiceState, absent
from tr4ctl.plan.target import HostTarget, host_target
from tr4ctl.plan.verdicts import (
    Check,
    failed,
    non_root_check,
    passed,
    readiness_check,
    skipped,
)
from tr4ctl.project.state import last_environment
from tr4ctl.rules import LOGIN_RATE_LIMIT_ATTEMPTS
from tr4ctl.runtime import Runtime

RESTART_TIMEOUT = 90.0
REFUSED_ORIGIN = "https://not-an-allowed-origin.invalid"
FOREIGN_HOST = "not-this-site.invalid"
SECURITY_HEADERS = ("x-frame-options", "x-content-type-options", "referrer-policy")
HSTS = "strict-transport-security"
PERMISSION_MARKERS = ("PermissionError", "Permission denied")
LOG_LINES_SCANNED = 20_000
# The request was just made: it is among the last lines, unless another client is busy.
REQUEST_LINES_SCANNED = 2_000
MARKER_FILE = f"{BACKEND_DATA_DIR}/.tr4ctl-verify-marker"
REQUEST_TIMEOUT = 30.0
# The items that check an optional part of the backend's (plan/backend_contract.py): a
# backend that does not provide it has them reported as "not provided", not failed.
NEEDS = {
    "database initialised": (READY, ACCOUNTS),
    # Reads the backend's settings with app.manage check-config: never run in a backend
    # that does not declare it (someone else's `app` module may start a server).
    "CORS: configured origins only": (ACCOUNTS,),
    "auth: wrong password refused": (ACCOUNTS,),
    "auth: token required": (ACCOUNTS,),
    "admin and founder accounts exist": (ACCOUNTS,),
    "login rate limiting": (ACCOUNTS,),
}


@dataclass
class VerifyReport:
    project: str
    env: str
    nginx_mode: str | None
    target: HostTarget
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def data(self) -> dict:
        return {"project": self.project, "env": self.env, "nginx_mode": self.nginx_mode,
                "target": self.target.describe(), "seconds": self.seconds}


def run_verify(rt: Runtime, *, restart: bool) -> VerifyReport:
    started = time.monotonic()
    states = require_stack_running(rt)
    mode = active_nginx_mode(rt)
    env = states["backend"].env or last_environment(rt.paths).value
    report = VerifyReport(rt.config.project_name, env, mode, host_target(rt.config, mode))
    # Generous: a login costs a bcrypt hash, slow on a busy small machine.
    with HostClient(report.target, timeout=REQUEST_TIMEOUT) as client:
        checklist = Checklist(rt, states, report, client)
        report.checks = checklist.run(restart=restart)
    report.seconds = round(time.monotonic() - started, 2)
    return report


class Checklist:
    def __init__(self, rt: Runtime, states: dict[str, ServiceState], report: VerifyReport,
                 client: HostClient):
        self.rt = rt
        self.states = states
        self.report = report
        self.client = client
        self.prod = report.env == "prod"
        self._probe: ProbeResult | None = None
        self._accounts: list[dict] | None = None
        self._config: dict | None = None
        self._parts: frozenset[str] | None = None

    def run(self, *, restart: bool) -> list[Check]:
        items: list[tuple[str, Callable[[str], Check | list[Check]]]] = [
            # The deployment checklist, in the operators' order.
            ("compose configuration valid", self.compose_valid),
            ("backend image built", self.backend_image),
            ("all containers running", self.containers_running),
            ("health checks passing", self.health_checks),
            ("nginx proxies to the backend", self.nginx_proxies),
            ("database initialised", self.database),
            ("CORS: configured origins only", self.through_https(self.cors)),
            ("auth: wrong password refused", self.through_https(self.wrong_password)),
            ("auth: token required", self.through_https(self.token_required)),
            ("admin and founder accounts exist", self.accounts),
            ("no PermissionError in backend logs", self.no_permission_error),
            ("logging active", self.logging_active),
            ("scheduled backup off the host", self.scheduled_backup),
            ("disk space", self.disk_space),
            ("data survives a backend restart",
             self.data_survives_restart if restart else
             lambda name: skipped(name, "verify only reads: `tr4ctl verify --restart` "
                                        "restarts the backend to check this")),
            # The security checklist.
            ("non-root", self.non_root),
            ("port 8000 not published", self.port_8000),
            ("security headers", self.security_headers),
            ("/docs and /redoc blocked", self.through_https(self.docs_blocked)),
            ("HTTP redirects to HTTPS", self.https_redirect),
            ("login rate limiting", self.through_https(self.login_rate_limit)),
        ]
        checks: list[Check] = []
        for name, item in items:
            lacking = [part for part in NEEDS.get(name, ()) if part not in self.parts()]
            if lacking:  # the backend's own choice, not a failure (README: Your own backend)
                checks.append(not_provided(name, lacking[0]))
                continue
            try:
                # Silent when quick; a line for any item that takes over a second.
                with self.rt.out.progress(f"verify: {name}"):
                    result = item(name)
            except Tr4ctlError as exc:
                result = failed(name, exc.message)
            except Exception as exc:  # noqa: BLE001 - one broken item must not hide the rest
                result = failed(name, describe_error(exc))
            checks.extend(result if isinstance(result, list) else [result])
        return checks

    def through_https(self, item: Callable[[str], Check]) -> Callable[[str], Check]:
        """Before its certificate prod nginx answers 503 on every API path: the HTTPS check
        fails and says why, instead of each API check failing for that same reason."""
        if not https_pending(self.report.nginx_mode):
            return item
        return lambda name: skipped(name, f"{HTTPS_PENDING_SHORT}: nginx answers 503 here "
                                          f"until `{HTTPS_PENDING_FIX}`")

    # -- shared observations ----------------------------------------------------------
    def parts(self) -> frozenset[str]:
        """The optional parts the running backend's image declares."""
        if self._parts is None:
            self._parts = image_parts(self.rt, self.states["backend"].image)
        return self._parts

    def running(self, service: str) -> bool:
        return self.states.get(service, absent(service)).state == "running"

    def probe(self) -> ProbeResult | None:
        if self._probe is None:
            self._probe, _, _ = probe_in_network(self.rt, self.states, samples=1, warmup=0,
                                                 nginx_mode=self.report.nginx_mode)
        return self._probe

    def manage(self, *args: str) -> Any:
        stdout = run_manage(self.rt, list(args), what=f"app.manage {args[0]}")
        lines = [line for line in stdout.splitlines() if line.strip()]
        return json.loads(lines[-1])

    def account_list(self) -> list[dict]:
        if self._accounts is None:
            self._accounts = list_accounts(self.rt)
        return self._accounts

    def backend_config(self) -> dict:
        if self._config is None:
            self._config = self.manage("check-config")
        return self._config

    def throwaway_email(self) -> str:
        return f"tr4ctl-verify-{secrets.token_hex(6)}@verify.invalid"

    def login(self, email: str) -> Any:
        return self.client.request("POST", "/api/auth/login",
                                   json={"email": email, "password": secrets.token_urlsafe(18)})

    # -- the deployment checklist ---------------------------------------------------
    def compose_valid(self, name: str) -> Check:
        compose_file = self.rt.paths.compose_file
        self.rt.engine.validate_compose([compose_file])
        return passed(name, "valid", evidence=f"docker compose config --quiet: {compose_file}")

    def backend_image(self, name: str) -> Check:
        image = self.rt.stack_inputs.backend_image
        image_id = self.rt.engine.image_id(image)
        if image_id is None:
            return failed(name, f"image {image} is not built (run `tr4ctl up --build`)")
        running_image = self.states["backend"].image
        if running_image and running_image != image:
            return failed(name, f"the backend runs {running_image}, not {image} "
                                "(run `tr4ctl up`)")
        return passed(name, image, evidence=f"{image} ({image_id[:19]}) present; "
                                            "the backend container runs it")

    def containers_running(self, name: str) -> Check:
        states = {s: self.states[s].state for s in self.rt.services}
        seen = ", ".join(f"{s} {state}" for s, state in states.items())
        down = [s for s, state in states.items() if state != "running"]
        if down:
            return failed(name, f"not running: {', '.join(down)}", evidence=seen)
        return passed(name, "running", evidence=seen)

    def health_checks(self, name: str) -> Check:
        docker_health = {s: self.states[s].health or "no healthcheck"
                         for s in self.rt.services}
        seen = ", ".join(f"{s} {h}" for s, h in docker_health.items())
        unhealthy = [s for s in self.rt.services if not self.states[s].healthy]
        if unhealthy:
            return failed(name, f"not healthy: {', '.join(unhealthy)}", evidence=seen)
        probe = self.probe()
        if probe is None:
            return failed(name, "the backend's /ready could not be probed", evidence=seen)
        if READY in self.parts():
            ready = readiness_check(probe.ready_status, probe.ready_body, probe.ready_error)
            if not ready.ok:
                return failed(name, f"/ready: {ready.reason}", evidence=seen)
            ready_seen = f"/ready: {ready.evidence}"
        else:
            ready_seen = not_provided_reason(READY)
        if probe.heartbeat_status != 200:
            return failed(name, f"chroma heartbeat: {probe.heartbeat_error or probe.heartbeat_status}",
                          evidence=seen)
        return passed(name, "healthy",
                      evidence=f"docker: {seen}; {ready_seen}; chroma heartbeat 200")

    def nginx_proxies(self, name: str) -> Check:
        response = self.client.request("GET", "/health")
        request_id = response.headers.get("x-request-id")
        seen = f"GET {self.report.target.url('/health')} -> {response.status_code} {response.text[:60]}"
        if response.status_code != 200:
            return failed(name, f"answered {response.status_code}: {response.text[:80]}",
                          evidence=seen)
        if REQUEST_ID not in self.parts():
            # nginx serves /health only from the backend: a 200 is the backend's answer.
            return passed(name, "200", evidence=f"{seen}; {not_provided_reason(REQUEST_ID)}")
        if not request_id:
            return failed(name, "the answer has no X-Request-ID: it did not come from the backend",
                          evidence=seen)
        return passed(name, "200", evidence=f"{seen}; X-Request-ID {request_id} from the backend")

    def database(self, name: str) -> Check:
        probe = self.probe()
        body = probe.ready_body if probe else None
        database = (body or {}).get("checks", {}).get("database") if isinstance(body, dict) else None
        if not database or not database.get("ok"):
            reason = (database or {}).get("reason", "no readiness answer")
            return failed(name, f"database not ready: {reason}")
        count = len(self.account_list())
        return passed(name, "initialised",
                      evidence=f"/ready database: {database.get('reason')}; "
                               f"app.manage list-users read {count} accounts")

    def cors(self, name: str) -> Check:
        origins = list(self.backend_config().get("cors_origins") or [])
        accepted, problems = [], []
        for origin in origins[:5]:
            allowed = self._preflight(origin)
            (accepted if allowed == origin else problems).append(origin)
        refused_answer = self._preflight(REFUSED_ORIGIN)
        evidence = (f"preflight OPTIONS /api/auth/login: {len(accepted)} configured origin(s) "
                    f"allowed ({', '.join(accepted) or 'none configured'}); "
                    f"{REFUSED_ORIGIN} {'refused' if refused_answer is None else 'ALLOWED'}")
        if problems:
            return failed(name, f"configured origin not allowed: {problems[0]}", evidence=evidence)
        if refused_answer is not None:
            return failed(name, f"an unlisted origin is allowed ({refused_answer})",
                          evidence=evidence)
        return passed(name, "configured only", evidence=evidence)

    def _preflight(self, origin: str) -> str | None:
        response = self.client.request("OPTIONS", "/api/auth/login", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        return response.headers.get("access-control-allow-origin")

    def wrong_password(self, name: str) -> Check:
        response = self.login(self.throwaway_email())
        evidence = f"POST /api/auth/login, throwaway account, random password -> {response.status_code}"
        if response.status_code != 401:
            return failed(name, f"answered {response.status_code}, not 401", evidence=evidence)
        return passed(name, "401", evidence=evidence)

    def token_required(self, name: str) -> Check:
        answers = {
            "GET /api/auth/me": self.client.request("GET", "/api/auth/me").status_code,
            "GET /api/users": self.client.request("GET", "/api/users").status_code,
            "GET /api/auth/me with a forged token": self.client.request(
                "GET", "/api/auth/me",
                headers={"Authorization": "Bearer not.a.token"}).status_code,
        }
        evidence = "; ".join(f"{what} -> {code}" for what, code in answers.items())
        let_in = [what for what, code in answers.items() if code != 401]
        if let_in:
            return failed(name, f"{let_in[0]} answered {answers[let_in[0]]}, not 401",
                          evidence=evidence)
        return passed(name, "401 without a valid token", evidence=evidence)

    def accounts(self, name: str) -> Check:
        roles: dict[str, int] = {}
        for account in self.account_list():
            roles[account.get("role", "?")] = roles.get(account.get("role", "?"), 0) + 1
        evidence = (f"app.manage list-users: {sum(roles.values())} accounts "
                    f"({', '.join(f'{n} {r}' for r, n in sorted(roles.items())) or 'none'})")
        missing = [role for role in ("admin", "founder") if not roles.get(role)]
        if missing:
            return failed(name, f"no {' and no '.join(missing)} account "
                                "(create them with `tr4ctl users seed`)", evidence=evidence)
        return passed(name, "admin and founder", evidence=evidence)

    def no_permission_error(self, name: str) -> Check:
        text = self.rt.engine.log_tail("backend", LOG_LINES_SCANNED)
        lines = text.splitlines()
        hits = [line for line in lines if any(m in line for m in PERMISSION_MARKERS)]
        evidence = f"{len(lines)} lines of backend output scanned"
        if not lines and REQUEST_ID not in self.parts():
            return passed(name, "none", evidence="the backend wrote no output")
        if not lines:
            return failed(name, "the backend has no log output to scan", evidence=evidence)
        if hits:
            return failed(name, f"{len(hits)} line(s) mention it: {hits[0][:120]}",
                          evidence=evidence)
        return passed(name, "none", evidence=evidence + ", none mention PermissionError")

    def logging_active(self, name: str) -> Check:
        """The request's id in the backend's and nginx's output as the engine keeps it
        (rotated: README "Disks that never fill"), not in files inside the containers. A
        backend without request ids: nginx's line for a path of verify's own."""
        if REQUEST_ID in self.parts():
            response = self.client.request("GET", "/health")
            marker = response.headers.get("x-request-id", "")
            if not marker:
                return failed(name, "no X-Request-ID on the answer to follow into the logs")
            found = {"backend": False, "nginx": False}
        else:
            marker = f"/tr4ctl-verify-{secrets.token_hex(8)}"
            self.client.request("GET", marker)
            found = {"nginx": False}
        deadline = time.monotonic() + 5
        while True:
            for service, seen in found.items():
                if not seen:
                    found[service] = marker in self.rt.engine.log_tail(
                        service, REQUEST_LINES_SCANNED)
            if all(found.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        evidence = "; ".join(f"request {marker} {'in' if ok else 'NOT in'} the last "
                             f"{REQUEST_LINES_SCANNED} lines of {service}'s logs"
                             for service, ok in found.items())
        if not all(found.values()):
            return failed(name, "a request is missing from "
                                f"{', '.join(s for s, ok in found.items() if not ok)} logs",
                          evidence=evidence)
        if "backend" not in found:
            return passed(name, "nginx logs (the engine's)",
                          evidence=f"{evidence}; backend: {not_provided_reason(REQUEST_ID)}")
        return passed(name, "backend and nginx logs (the engine's)", evidence=evidence)

    def scheduled_backup(self, name: str) -> Check:
        from tr4ctl.actions.backup.schedule import schedule_report

        scheduled = schedule_report(self.rt)
        if scheduled is None:
            return skipped(name, "no TR4CTL_BACKUP_SCHEDULE: the data has no copy off the host")
        if scheduled.problem:
            return failed(name, scheduled.words)
        return passed(name, f"{scheduled.schedule} to {scheduled.target}: {scheduled.words}")
    def disk_space(self, name: str) -> Check:
        space = free_space(self.rt)
        evidence = "the project folder and the engine's data root, measured"
        if space.low:
            return failed(name, space.warning() or "", space.describe(),
                          f"at least {human_bytes(MIN_FREE_BYTES)} free", evidence)
        return passed(name, space.describe(), f"at least {human_bytes(MIN_FREE_BYTES)} free",
                      evidence)

    def data_survives_restart(self, name: str) -> Check:
        if not self.running("backend"):
            return failed(name, "the backend is not running")
        engine = self.rt.engine
        token = secrets.token_hex(8)
        accounts_before = len(self.account_list())
        engine.exec_in("backend", ["sh", "-c", f"printf %s {token} > {MARKER_FILE}"])
        with self.rt.changing("verify"):
            restart_started = time.monotonic()
            engine.compose_restart(["backend"])
            startups, _ = wait_healthy(engine, ("backend",), timeout=RESTART_TIMEOUT,
                                       started=restart_started)
        try:
            kept = engine.exec_in("backend", ["cat", MARKER_FILE], check=False).stdout.strip()
            self._accounts = None
            accounts_after = len(self.account_list())
        finally:
            engine.exec_in("backend", ["rm", "-f", MARKER_FILE], check=False)
        proxied = self._nginx_answers_again()
        evidence = (f"marker file in the backend_data volume {'kept' if kept == token else 'LOST'}; "
                    f"accounts {accounts_before} before, {accounts_after} after; healthy again "
                    f"{startups[0].seconds_to_healthy:.1f}s after the restart; "
                    f"nginx /health {proxied}")
        if kept != token:
            return failed(name, "the marker file written before the restart is gone",
                          evidence=evidence)
        if accounts_after != accounts_before:
            return failed(name, f"{accounts_before} accounts before, {accounts_after} after",
                          evidence=evidence)
        if proxied != 200:
            return failed(name, f"nginx does not reach the restarted backend ({proxied})",
                          evidence=evidence)
        return passed(name, "kept", evidence=evidence)

    def _nginx_answers_again(self) -> int | str:
        deadline = time.monotonic() + 10
        status: int | str = "no answer"
        while time.monotonic() < deadline:
            try:
                status = self.client.request("GET", "/health").status_code
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                status = describe_error(exc)
            if status == 200:
                break
            time.sleep(0.3)
        return status

    # -- the security checklist -----------------------------------------------------
    def non_root(self, _: str) -> list[Check]:
        return [non_root_check(service, service_processes(self.rt, self.states[service]))
                for service in self.rt.services]

    def port_8000(self, name: str) -> Check:
        published = {service: state.ports for service, state in self.states.items() if state.ports}
        listing = "; ".join(f"{s} {', '.join(p)}" for s, p in published.items()) or "nothing"
        exposed = [f"{s} {p}" for s, ports in published.items() for p in ports
                   if p.split("->")[-1].split("/")[0] == "8000"]
        if exposed:
            return failed(name, f"published: {exposed[0]}", evidence=f"published: {listing}")
        return passed(name, "not published", evidence=f"published: {listing}")

    def security_headers(self, name: str) -> Check:
        response = self.client.request("GET", "/health")
        pending = https_pending(self.report.nginx_mode)
        wanted = list(SECURITY_HEADERS) + ([HSTS] if self.prod and not pending else [])
        present = {h: response.headers.get(h) for h in wanted}
        evidence = "; ".join(f"{h}: {v or 'MISSING'}" for h, v in present.items())
        if not self.prod:
            evidence += "; HSTS not expected on HTTP (dev)"
        elif pending:
            evidence += "; HSTS once HTTPS is set up (browsers ignore it over HTTP)"
        missing = [h for h, v in present.items() if not v]
        if missing:
            return failed(name, f"missing {', '.join(missing)}", evidence=evidence)
        return passed(name, "present", evidence=evidence)

    def docs_blocked(self, name: str) -> Check:
        if not self.prod:
            return skipped(name, "prod only: dev serves /docs by design", "404 in prod")
        answers = {path: self.client.request("GET", path).status_code
                   for path in ("/docs", "/redoc", "/openapi.json")}
        evidence = "; ".join(f"GET {p} -> {c}" for p, c in answers.items())
        open_paths = [p for p, c in answers.items() if c != 404]
        if open_paths:
            return failed(name, f"{open_paths[0]} answered {answers[open_paths[0]]}",
                          evidence=evidence)
        return passed(name, "404", evidence=evidence)

    def https_redirect(self, name: str) -> Check:
        if not self.prod:
            return skipped(name, "prod only: dev serves HTTP", "301 to https in prod")
        if https_pending(self.report.nginx_mode):
            return failed(name, HTTPS_PENDING_ADVICE)
        if self.report.nginx_mode != "prod":
            return failed(name, f"nginx serves its {self.report.nginx_mode or '-'} config, "
                                "not HTTPS (`tr4ctl nginx use prod`)")
        config = self.rt.config
        http_target = host_target(config, self.report.nginx_mode, scheme="http")
        origin = f"https://{config.domain}" + ("" if config.https_port == 443
                                               else f":{config.https_port}")
        # A foreign Host header must not steer the redirect; a POST must stay a POST (308).
        tries = [("GET", "/health", {}, 301),
                 ("POST", "/api/auth/login", {"Host": FOREIGN_HOST}, 308)]
        seen, wrong = [], []
        with HostClient(http_target) as plain:
            for method, path, headers, status in tries:
                response = plain.request(method, path, headers=headers)
                location = response.headers.get("location", "")
                shown = f" (Host: {headers['Host']})" if headers else ""
                seen.append(f"{method} {path}{shown} -> {response.status_code} {location}")
                if response.status_code != status or location != origin + path:
                    wrong.append(f"{method} {path}{shown} answered {response.status_code} "
                                 f"{location or 'without Location'}, not {status} {origin}{path}")
        evidence = f"{http_target.describe()}: " + "; ".join(seen)
        if wrong:
            return failed(name, wrong[0], evidence=evidence)
        return passed(name, "301 (GET), 308 (POST)", evidence=evidence)

    def login_rate_limit(self, name: str) -> Check:
        configured = self.rt.config.backend_values.get("LOGIN_RATE_LIMIT_ATTEMPTS")
        attempts = (int(configured) if configured and configured.isdigit()
                    else LOGIN_RATE_LIMIT_ATTEMPTS)
        email = self.throwaway_email()
        codes = []
        for _ in range(attempts + 3):
            response = self.login(email)
            codes.append(response.status_code)
            if response.status_code == 429:
                who = ("the backend" if response.headers.get("retry-after")
                       else "nginx (limit_req)")
                return passed(name, "429", evidence=(
                    f"{len(codes) - 1} failed logins for a throwaway account, then 429 from "
                    f"{who}; Retry-After {response.headers.get('retry-after', '-')}"))
        return failed(name, f"no 429 after {len(codes)} failed logins (answers: "
                            f"{', '.join(str(c) for c in codes)})")
