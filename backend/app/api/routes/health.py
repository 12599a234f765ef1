from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DatabaseDep, SettingsDep
from app.api.responses import NOT_READY
from app.services.readiness import readiness_report

router = APIRouter(tags=["health"])


# Registered on the app itself by app.main (not on this router): a route reached through
# an included router costs ~9 us more per request in this FastAPI, and Docker's
# healthcheck asks every second.
async def health() -> dict:
    """Liveness only: no database, no network."""
    return {"status": "healthy"}


@router.get("/ready", responses=NOT_READY)
def ready(settings: SettingsDep, db: DatabaseDep) -> JSONResponse:
    report = readiness_report(settings, db)
    return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)
