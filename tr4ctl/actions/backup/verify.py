"""`tr4ctl backup verify`: read the whole archive, every member of it and of each
volume's tar against what an archive may hold, every part against its manifest."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.actions.backup.archive import VerifyResult, verify_archive
from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.plan.backup import ENV_PART, env_project_problem

REFUSED_HINT = "an archive holds the stack's data and nothing else; use another one; nothing " \
               "was changed"


def check_archive(path: Path) -> VerifyResult:
    """Everything about the archive itself, before anything else is looked at: an
    unsafe archive is bad input (exit 2), a damaged one a failure (exit 1)."""
    result = verify_archive(path)
    unsafe = result.unsafe or env_problems(path, result)
    if unsafe:
        raise BadInput(f"{path} is refused: {_first(unsafe)}", REFUSED_HINT)
    if result.problems:
        raise OperationFailed(f"{path} failed verification: {_first(result.problems)}",
                              "use another archive; nothing was changed")
    return result


def env_problems(path: Path, result: VerifyResult) -> list[str]:
    """The env part read as this tr4ctl reads a .env: every line a setting it knows with
    a valid value, and no other project's name."""
    if result.env_text is None:
        return []
    from tr4ctl.config.load import parse_env_text, resolve

    where = Path(f"{path.name}:{ENV_PART}")
    try:
        text = result.env_text.decode("utf-8")
        env = parse_env_text(text, where)
        resolve(env, {}, {})
    except UnicodeDecodeError:
        return ["the archive's .env is not UTF-8 text"]
    except BadInput as exc:
        return [f"the archive's .env is not a valid configuration: {exc.message}"]
    problem = env_project_problem(result.manifest, env.values)
    return [problem] if problem else []


def _first(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
