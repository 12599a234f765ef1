"""Which build of the code answers: tr4ctl checks a deploy serves the new one."""

import os

from fastapi import APIRouter

router = APIRouter(tags=["health"])
VERSION = os.environ.get("BACKEND_VERSION") or "unknown"


@router.get("/version")
async def version() -> dict:
    return {"version": VERSION}
