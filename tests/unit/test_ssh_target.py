"""ssh:// addresses: plan/ssh_target.py reads them without urllib.parse (a forwarded
command's start). Its reading is held against urlsplit's, input by input."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tr4ctl.plan.ssh_target import (
    SshTarget,
    is_host_name,
    is_user_name,
    parse_target,
    target_problem,
)

# The regexes the module had before it stopped importing re.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")

SAME_AS_URLSPLIT = [
    "ssh://host.example", "ssh://ubuntu@host.example", "ssh://ubuntu@host.example:22",
    "ssh://ubuntu@HOST.Example:2222/", "ssh://root@203.0.113.7", "ssh://[::1]",
    "ssh://ubuntu@[2001:db8::7]:2222", "ssh://[fe80::1%eTh0]:22", "ssh://host:",
    "ssh://a@b@host", "ssh://ubuntu:pw@host", "ssh://ubuntu:@host", "ssh://@host",
    "ssh://host:abc", "ssh://host:99999", "ssh://host:0", "ssh://host:-1", "ssh://host:+22",
    "ssh://host:2:2", "ssh://h[ost", "ssh://h]ost", "ssh://[::1", "ssh://::1]",
    "ssh://[zz]", "ssh://[1.2.3.4]", "ssh://", "ssh://:22", "ssh://user@",
    "ssh://host/path", "ssh://host?x=1", "ssh://host#frag", "ssh://-oProxyCommand=x",
    "ssh://ubuntu@-host", "ssh://Ubuntu@host", "ssh://host.example.:22",
    "ssh://a..b", "ssh://host:２２",
]


def reference(value: str) -> SshTarget | None:
    """The urlsplit-based reading this module had before: None for a refusal."""
    if not value.startswith("ssh://") or any(c.isspace() or ord(c) < 32 for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if (parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.password is not None or not host
            or (":" not in host and not _HOST_NAME.match(host)) or host.startswith("-")
            or (parts.username is not None and not _USER.match(parts.username))
            or port == 0):
        return None
    return SshTarget(host=host, user=parts.username, port=port)


@pytest.mark.parametrize("value", SAME_AS_URLSPLIT)
def test_reads_an_address_as_urlsplit_did(value):
    expected = reference(value)
    if expected is None:
        assert target_problem(value) is not None
        with pytest.raises(ValueError):
            parse_target(value)
    else:
        assert target_problem(value) is None
        assert parse_target(value) == expected


@pytest.mark.parametrize("value", [
    "ssh://[::1]junk", "ssh://[::1]x:22", "ssh://hóst.example", "ssh://ubuntu@[v1.x]",
    "ssh://[127.0.0.1]", "ssh://[::1]]",
])
def test_refuses_what_urlsplit_let_through_or_misread(value):
    assert target_problem(value) is not None
    with pytest.raises(ValueError):
        parse_target(value)


def test_parts_and_words():
    target = parse_target("ssh://ubuntu@[2001:DB8::7%Zone]:2222")
    assert target == SshTarget(host="2001:db8::7%Zone", user="ubuntu", port=2222)
    assert str(target) == "ssh://ubuntu@[2001:db8::7%Zone]:2222"
    assert target.known_hosts_name == "[2001:db8::7%Zone]:2222"
    assert parse_target("ssh://root@host").needs_sudo is False
    assert "never carries a password" in target_problem("ssh://u:pw@host")
    assert "has a path or query" in target_problem("ssh://host/x")
    assert "outside ASCII" in target_problem("ssh://hóst")


@pytest.mark.parametrize("name", [
    "host", "h", "a" * 63, "a" * 64, "a-b.c-d", "-a", "a-", "a..b", "a.", ".a", "",
    "203.0.113.7", "x" * 63 + "." + "y" * 63 + "." + "z" * 63 + "." + "w" * 61,
    "x" * 63 + "." + "y" * 63 + "." + "z" * 63 + "." + "w" * 62, "h_st", "hóst", "A9-z",
])
def test_host_names_as_the_regex_took_them(name):
    assert is_host_name(name) == bool(_HOST_NAME.match(name)), name


@pytest.mark.parametrize("user", [
    "ubuntu", "_x", "u" * 32, "u" * 33, "9a", "Ubuntu", "a.b-c_d", "", "a b", "ü", "a$",
])
def test_user_names_as_the_regex_took_them(user):
    assert is_user_name(user) == bool(_USER.match(user)), user
