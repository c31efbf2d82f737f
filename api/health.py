"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cutwatch.api.migrate import pending_migrations
from cutwatch.api.state import PoolDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(pool: PoolDep, settings: SettingsDep) -> JSONResponse | dict[str, str]:
    """The database answers and every shipped migration is applied."""
    try:
        async with pool.connection(timeout=settings.db_wait_seconds) as conn:
            pending = await pending_migrations(conn)
    except Exception as exc:
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "detail": f"database: {type(exc).__name__}"},
            headers={"Retry-After": "1"},
        )
    if pending:
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable",
                     "detail": f"pending migrations: {', '.join(pending)}"},
        )
    return {"status": "ready"}
