"""The one check of how tr4ctl says no (shared by tests/unit and tests/stack): the exit
code, one line on stderr naming each of the words, no traceback."""

from __future__ import annotations


def one_line(result, code: int, *words: str) -> str:
    """The message line; `result` is a finished process (or anything with returncode and
    stderr)."""
    assert result.returncode == code, (result.returncode, result.stderr, result.stdout)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def refused(result, *words: str) -> str:
    """Bad input: exit 2, one line."""
    return one_line(result, 2, *words)
