"""`tr4ctl db status`: which database the backend uses, its server, size, migration
revision and rows per table, in the backend's own words (`app.manage db-stats`)."""

from __future__ import annotations

import json
from typing import Any

from tr4ctl.actions.users.manage import require_backend_running, run_manage
from tr4ctl.errors import OperationFailed
from tr4ctl.runtime import Runtime


def database_status(rt: Runtime) -> dict[str, Any]:
    require_backend_running(rt, "db status")
    stdout = run_manage(rt, ["db-stats"], what="reading the database's figures")
    try:
        stats = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise OperationFailed("the backend gave no database figures",
                              "see `tr4ctl logs backend`") from None
    return {"setting": rt.config.database, **stats}
