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
# Where a host CA bundle (--ca-bundle) is mounted read-only inside certbot's container.
CA_BUNDLE_IN_CONTAINER = "/run/tr4ctl/acme-ca-bundle.pem"

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
    if url_problem(server):
        raise BadInput(f"invalid ACME server URL {value!r}",
                       "give the CA's directory URL, e.g. --server https://ca.internal/directory")
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
          "Simulating a certificate request for")


@dataclass(frozen=True)
class CertbotFailure:
    reason: str  # one line, the CA's own words when it gave any
    details: str  # certbot's output without its boilerplate


def certbot_failure(output: str) -> CertbotFailure:
    """The one line worth showing from a failed certbot run, and the rest as details."""
    lines = [line.rstrip() for line in output.splitlines()]
    kept = [line for line in lines if line.strip() and not line.strip().startswith(_NOISE)]
    details = "\n".join(kept)

    problems = []
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
    if problems:
        return CertbotFailure("the CA refused: " + "; ".join(problems), details)

    for marker in ("An unexpected error occurred:", "Error returned by the ACME server:"):
        for index, line in enumerate(kept):
            if marker in line:
                rest = line.split(marker, 1)[1].strip()
                following = kept[index + 1].strip() if index + 1 < len(kept) else ""
                return CertbotFailure(_shorten(rest or following or line.strip()), details)
    errors = [line.strip() for line in kept if line.strip().lower().startswith("error")]
    if errors:
        return CertbotFailure(_shorten(errors[-1]), details)
    last = kept[-1].strip() if kept else "certbot failed without output"
    return CertbotFailure(_shorten(last), details)


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
    interval_seconds: int | None
    started: datetime | None
    last_pass: datetime | None
    last_exit: int | None
    next_pass: datetime | None


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
                         number("last_exit"), moment("next_pass"))
