"""Certificates as data: what was asked, what is on disk, and what to do about it.

Pure: validation of the operator's input, parsing of PEM files and of certbot's
output, the renew decision and the exact certbot command lines. Nothing here touches
Docker, the network, a file or the clock: callers pass in what they read and `now`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from tr4ctl.config.values import domain_problem, email_problem, url_problem
from tr4ctl.errors import BadInput
from tr4ctl.facts import ACME_WEBROOT, LETSENCRYPT_DIR

# A certificate with more days left than this is kept: the CA is not contacted.
RENEW_BEFORE_DAYS = 30

LIVE_DIR = f"{LETSENCRYPT_DIR}/live"
RENEWAL_DIR = f"{LETSENCRYPT_DIR}/renewal"
WEBROOT = ACME_WEBROOT

# certbot's own defaults, so a lineage's recorded server can be compared with a request.
LETSENCRYPT_SERVER = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING_SERVER = "https://acme-staging-v02.api.letsencrypt.org/directory"

_LISTING_MARK = "#tr4ctl "


# -- input ---------------------------------------------------------------------------
def validate_domain(value: str) -> str:
    """A DNS name certbot's webroot method can prove: no wildcard, no IP, two labels+."""
    domain = value.strip().lower().rstrip(".")
    problem = domain_problem(domain)
    if problem:
        raise BadInput(f"invalid domain {value!r}: {problem}",
                       "use the site's DNS name, e.g. --domain api.example.com")
    return domain


def validate_email(value: str) -> str:
    email = value.strip()
    if email_problem(email):
        raise BadInput(f"invalid email {value!r}",
                       "give the address the CA sends expiry notices to, e.g. "
                       "--email ops@example.com")
    return email


def validate_server(value: str) -> str:
    server = value.strip()
    if problem := url_problem(server):
        raise BadInput(f"invalid ACME server URL {value[:80]!r}: {problem}",
                       "give the CA's directory URL, e.g. --server https://ca.internal/directory")
    if not server.lower().startswith("https://"):
        # RFC 8555 §6.1: ACME runs over HTTPS only; a plain-HTTP URL fails later and obscurely.
        raise BadInput(f"ACME server URL {server} is plain HTTP: ACME directories are served "
                       "over HTTPS", f"use https://{server.split('://', 1)[-1]}")
    return server


@dataclass(frozen=True)
class IssueRequest:
    """What `cert issue` will ask certbot for, validated and merged with settings."""

    domain: str
    email: str
    server: str | None = None
    staging: bool = False
    dry_run: bool = False
    ca_bundle: Path | None = None
    # Which values came from flags and differ from settings: persisted after success.
    persist: dict[str, str] = field(default_factory=dict)

    @property
    def expected_server(self) -> str:
        if self.server:
            return self.server
        return LETSENCRYPT_STAGING_SERVER if self.staging else LETSENCRYPT_SERVER


# -- certificates --------------------------------------------------------------------
@dataclass(frozen=True)
class CertificateInfo:
    domain: str
    serial: str  # upper-case hex, as browsers and openssl show it
    fingerprint: str  # SHA-256 of the DER, hex
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {
            "domain": self.domain,
            "serial": self.serial,
            "fingerprint_sha256": self.fingerprint,
            "issuer": self.issuer,
            "names": list(self.names),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
        }


def pem_certificates(data: bytes) -> list[bytes]:
    """The PEM blocks of a file (a bundle or a chain), first one first."""
    return re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.DOTALL)


def parse_certificate(data: bytes, domain: str | None = None) -> CertificateInfo:
    """The first certificate of PEM (or DER) bytes. Raises ValueError if there is none."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    blocks = pem_certificates(data)
    if blocks:
        cert = x509.load_pem_x509_certificate(blocks[0])
    elif data[:1] == b"\x30":
        cert = x509.load_der_x509_certificate(data)
    else:
        raise ValueError("no certificate in the data")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(
        domain=domain or (names[0] if names else ""),
        serial=format(cert.serial_number, "X"),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        issuer=cert.issuer.rfc4514_string(),
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def live_listing_script() -> str:
    """One shell pass printing each lineage's cert.pem and recorded server (one exec)."""
    return (
        f'cd {LIVE_DIR} 2>/dev/null || exit 0; '
        'for d in */; do d="${d%/}"; [ -f "$d/cert.pem" ] || continue; '
        f'echo "{_LISTING_MARK}domain $d"; '
        f'sed -n "s/^server *= *//p" "{RENEWAL_DIR}/$d.conf" 2>/dev/null '
        f'| sed "s/^/{_LISTING_MARK}server /"; '
        'cat "$d/cert.pem"; done'
    )


@dataclass(frozen=True)
class Lineage:
    """One certbot lineage as seen on disk: its certificate and the CA it came from."""

    certificate: CertificateInfo | None
    server: str | None
    problem: str | None = None  # why the certificate could not be read


def parse_live_listing(text: str) -> dict[str, Lineage]:
    found: dict[str, Lineage] = {}
    domain: str | None = None
    server: str | None = None
    pem: list[str] = []

    def close() -> None:
        if domain is None:
            return
        try:
            found[domain] = Lineage(parse_certificate("\n".join(pem).encode(), domain), server)
        except ValueError as exc:
            found[domain] = Lineage(None, server, f"unreadable certificate: {exc}")

    for line in text.splitlines():
        if line.startswith(_LISTING_MARK + "domain "):
            close()
            domain, server, pem = line[len(_LISTING_MARK) + 7:].strip(), None, []
        elif line.startswith(_LISTING_MARK + "server "):
            server = line[len(_LISTING_MARK) + 7:].strip() or None
        elif domain is not None:
            pem.append(line)
    close()
    return found


class IssueDecision(StrEnum):
    ISSUE = "issue"  # no certificate yet
    RENEW = "renew"  # one exists but is due, expired, for other names or from another CA
    KEEP = "keep"  # valid, more than RENEW_BEFORE_DAYS left, same CA: do not contact the CA


def issue_decision(lineage: Lineage | None, request: IssueRequest, now: datetime) -> tuple[IssueDecision, str]:
    """Whether `cert issue` must ask the CA, and why (shown to the operator)."""
    if lineage is None:
        return IssueDecision.ISSUE, "no certificate yet"
    cert = lineage.certificate
    if cert is None:
        return IssueDecision.RENEW, lineage.problem or "the certificate on disk is unreadable"
    if request.domain not in cert.names:
        return IssueDecision.RENEW, f"the certificate on disk is for {', '.join(cert.names) or '?'}"
    if lineage.server and _normal(lineage.server) != _normal(request.expected_server):
        return IssueDecision.RENEW, f"the certificate on disk comes from {lineage.server}"
    days = cert.days_left(now)
    if days <= RENEW_BEFORE_DAYS:
        return IssueDecision.RENEW, ("expired" if days < 0 else f"{days} days left")
    return IssueDecision.KEEP, f"valid for {days} more days"


def renewal_due(cert: CertificateInfo, now: datetime) -> bool:
    return cert.days_left(now) <= RENEW_BEFORE_DAYS


# -- certbot command lines -----------------------------------------------------------
def certbot_certonly_argv(request: IssueRequest, *, replace_existing: bool) -> list[str]:
    """`certbot certonly` for one domain, webroot through the running nginx.

    --cert-name pins the files to live/<domain>/, where the nginx config looks for them;
    --force-renewal is only given when tr4ctl has already decided to replace a lineage
    (certbot would otherwise ask, and --non-interactive makes asking an error).
    """
    argv = ["certonly", "--webroot", "-w", WEBROOT, "-d", request.domain,
            "--cert-name", request.domain, "-m", request.email, "--agree-tos",
            "--no-eff-email", "--non-interactive"]
    if request.server:
        argv += ["--server", request.server]
    if request.staging:
        argv.append("--staging")
    if request.dry_run:
        argv.append("--dry-run")
    if replace_existing:
        argv.append("--force-renewal")
    return argv


def certbot_renew_argv(domain: str, server: str | None, *, dry_run: bool,
                       force: bool) -> list[str]:
    """`certbot renew` for one lineage.

    With --dry-run certbot replaces a lineage's recorded CA by Let's Encrypt's staging
    CA unless --server is given: a lineage from another CA (a private one, pebble) must
    be tested against that CA, so its server is passed explicitly.
    """
    # No random sleep: an operator is waiting (certbot sleeps up to 8 minutes otherwise).
    argv = ["renew", "--cert-name", domain, "--webroot", "-w", WEBROOT, "--non-interactive",
            "--no-random-sleep-on-renew"]
    if dry_run:
        argv.append("--dry-run")
        if server and _normal(server) not in (_normal(LETSENCRYPT_SERVER),
                                             _normal(LETSENCRYPT_STAGING_SERVER)):
            argv += ["--server", server]
    if force:
        argv.append("--force-renewal")
    return argv


def _normal(url: str) -> str:
    return url.strip().rstrip("/").lower()


CERTBOT_BUSY = "Another instance of Certbot is already running"
_NOISE = ("Saving debug log to", "Ask for help or search for solutions",
          "See the logfile", "- - - -", "Requesting a certificate for",
          "Simulating a certificate request for", "Simulating renewal of",
          "Renewing an existing certificate for", "Processing /etc/letsencrypt/renewal/",
          "All simulated renewals failed", "All renewals failed", "/etc/letsencrypt/live/")
_TRACEBACK = ("Traceback (most recent call last)", "File \"", "^", "~")

# The hint for each kind of failure: it names what to do about that failure only.
HINTS = {
    "ca-unreachable": "check the ACME server URL (--server or TR4CTL_ACME_SERVER) and that "
                      "this host reaches it: DNS, outbound firewall",
    "ca-untrusted": "give the CA that signed the ACME server's TLS certificate with "
                    "--ca-bundle (or TR4CTL_ACME_CA_BUNDLE)",
    "ca-tls": "the ACME server's port does not speak TLS as expected: check the URL's port",
    "not-acme": "the URL is not an ACME directory: check --server (or TR4CTL_ACME_SERVER); "
                f"Let's Encrypt's is {LETSENCRYPT_SERVER}",
    "no-account": "the CA no longer knows certbot's saved account (a test CA restarted?): "
                  "remove /etc/letsencrypt/accounts/<server> in the certbot_conf volume",
    "busy": "another certbot (the certbot-renew service) kept running; try again later",
    "refused:dns": "the domain must resolve (public DNS) to this host before the CA can "
                   "check it",
    "refused:connection": "the CA could not connect to this host on port 80: point the "
                          "domain's DNS at this host and open port 80",
    "refused:unauthorized": "the CA reached a server that did not answer the challenge: the "
                            "domain's DNS must point at this host; `tr4ctl logs nginx` shows "
                            "the CA's requests",
    "refused:rateLimited": "the CA's rate limit: wait as it says, or test with --staging",
    "other": "`tr4ctl logs nginx` shows the CA's requests",
}


@dataclass(frozen=True)
class CertbotFailure:
    reason: str  # one line, the CA's own words when it gave any
    details: str | None  # certbot's output without its boilerplate, when it adds anything
    kind: str = "other"  # a key of HINTS

    @property
    def hint(self) -> str:
        return HINTS.get(self.kind) or HINTS["other"]


def certbot_failure(output: str, server: str | None = None) -> CertbotFailure:
    """The one line worth showing from a failed certbot run, the kind of failure (which
    picks the hint) and the rest as details. `server` is the ACME directory asked."""
    lines = [line.rstrip() for line in output.splitlines()]
    kept = [line for line in lines if line.strip() and not line.strip().startswith(_NOISE)
            and not line.strip().startswith(_TRACEBACK)]
    details = "\n".join(kept) or None

    refused = _ca_refusal(kept)
    if refused is not None:
        return refused
    if CERTBOT_BUSY in output:
        return CertbotFailure(CERTBOT_BUSY, None, "busy")
    lowered = output.lower()
    if "accountdoesnotexist" in lowered or "account does not exist" in lowered:
        return CertbotFailure("the CA does not know certbot's saved account", details,
                              "no-account")
    error = _error_line(kept)
    where = _acme_server(server, error)
    transport = _transport_failure(error, where)
    if transport is not None:
        return transport
    if error.startswith("acme.errors.ClientError"):
        answer = error.split(":", 1)[1].strip()
        status = re.search(r"<Response \[(\d+)\]>", answer)
        said = f"HTTP {status.group(1)}" if status else answer
        return CertbotFailure(_shorten(f"{where} did not answer as an ACME directory ({said})"),
                              None, "not-acme")
    return CertbotFailure(_shorten(_without_exception_class(error)), details)


def _ca_refusal(kept: list[str]) -> CertbotFailure | None:
    """The CA's own Domain/Type/Detail lines: it checked the challenge and said no."""
    problems, kinds = [], []
    domain = kind = None
    for line in kept:
        stripped = line.strip()
        if stripped.startswith(("Domain:", "Identifier:")):  # certbot 5 says Identifier
            domain = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("Type:"):
            kind = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("Detail:"):
            detail = stripped.split(":", 1)[1].strip()
            where = f"{domain}: " if domain else ""
            problems.append(f"{where}{detail}" + (f" ({kind})" if kind else ""))
            kinds.append(_refusal_kind(kind, detail))
    if not problems:
        return None
    return CertbotFailure("the CA refused: " + "; ".join(problems), "\n".join(kept), kinds[0])


def _refusal_kind(kind: str | None, detail: str) -> str:
    # A name the CA cannot resolve comes as a "connection" problem from some CAs.
    if kind == "dns" or "no such host" in detail or "NXDOMAIN" in detail:
        return "refused:dns"
    key = f"refused:{(kind or '').rsplit(':', 1)[-1]}"
    return key if key in HINTS else "other"


def _error_line(kept: list[str]) -> str:
    # certonly says the first two; renew says "Failed to renew certificate D with error: ...".
    for marker in ("An unexpected error occurred:", "Error returned by the ACME server:",
                   " with error:"):
        for index, line in enumerate(kept):
            if marker in line:
                rest = line.split(marker, 1)[1].strip()
                following = kept[index + 1].strip() if index + 1 < len(kept) else ""
                return rest or following or line.strip()
    errors = [line.strip() for line in kept if line.strip().lower().startswith("error")]
    if errors:
        return errors[-1]
    return kept[-1].strip() if kept else "certbot failed without output"


def _acme_server(server: str | None, error: str) -> str:
    """The ACME server as the operator wrote it, else as the HTTP library names it."""
    if server:
        return f"the ACME server {server}"
    pool = re.search(r"host='([^']+)', port=(\d+)", error)
    return f"the ACME server {pool.group(1)}:{pool.group(2)}" if pool else "the ACME server"


_UNREACHABLE_CAUSES = (
    ("connection refused", "connection refused"),
    ("failed to resolve", "the name does not resolve"),
    ("name or service not known", "the name does not resolve"),
    ("name resolution", "the name does not resolve"),
    ("timed out", "timed out"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
)


def _transport_failure(error: str, where: str) -> CertbotFailure | None:
    """certbot's HTTP client never got an ACME answer: the request did not reach the CA."""
    lowered = error.lower()
    if "certificate verify failed" in lowered or "certificate_verify_failed" in lowered:
        return CertbotFailure(f"{where} presents a TLS certificate certbot does not trust",
                              None, "ca-untrusted")
    if "sslerror" in lowered:
        ssl_reason = re.search(r"\[SSL: ([A-Z_]+)\]", error)
        why = ssl_reason.group(1).lower().replace("_", " ") if ssl_reason else "TLS error"
        return CertbotFailure(f"no TLS connection to {where} ({why})", None, "ca-tls")
    if "connectionerror" in lowered or "connectionpool(" in lowered or "timeout" in lowered:
        cause = next((said for key, said in _UNREACHABLE_CAUSES if key in lowered),
                     "connection failed")
        return CertbotFailure(f"{where} is unreachable ({cause})", None, "ca-unreachable")
    return None


def _without_exception_class(line: str) -> str:
    """`requests.exceptions.X: text` -> `text`: the class name is for developers."""
    head, sep, rest = line.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Z]\w*", head):
        return rest
    return line


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- nginx's config ----------------------------------------------------------------
def tls_domains_in_config(conf_text: str) -> list[str]:
    """The domains whose certificates an nginx config serves (from its ssl_certificate)."""
    pattern = re.compile(r"^\s*ssl_certificate\s+" + re.escape(LIVE_DIR) + r"/([^/]+)/", re.MULTILINE)
    return list(dict.fromkeys(pattern.findall(conf_text)))


# -- unattended renewal (the certbot-renew service) -------------------------------------


@dataclass(frozen=True)
class RenewSchedule:
    """The certbot-renew loop's state file: when it passed, how that went, when next."""

    interval_seconds: int | None
    started: datetime | None
    last_pass: datetime | None
    last_exit: int | None
    next_pass: datetime | None
    last_forced: bool = False
    ca_bundle: str | None = None  # REQUESTS_CA_BUNDLE inside the service, if any

    @property
    def last_result(self) -> str | None:
        """"succeeded" or "failed": certbot renew exits non-zero when any renewal failed."""
        if self.last_pass is None or self.last_exit is None:
            return None
        return "succeeded" if self.last_exit == 0 else "failed"

    def seconds_to_next_pass(self, now: datetime) -> int | None:
        return max(0, int((self.next_pass - now).total_seconds())) if self.next_pass else None


def parse_renew_state(text: str) -> RenewSchedule:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()

    def number(key: str) -> int | None:
        raw = values.get(key, "")
        return int(raw) if raw.lstrip("-").isdigit() else None

    def moment(key: str) -> datetime | None:
        seconds = number(key)
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None

    return RenewSchedule(number("interval"), moment("started"), moment("last_pass"),
                         number("last_exit"), moment("next_pass"),
                         last_forced=number("last_forced") == 1,
                         ca_bundle=values.get("ca_bundle") or None)


def in_words(seconds: int) -> str:
    """12h 5m, 4m, 30s: how far off the next renewal pass is, for people."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"
