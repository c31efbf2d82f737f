"""The collector service as a FastAPI app, made by ``create_app(settings)``.

The lifespan opens the database pool, applies migrations, opens the GeoIP database and runs
the background WORKERS as tasks until shutdown. Each stage adds one line to ROUTERS or WORKERS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import APIRouter, FastAPI

from cutwatch import __version__
from cutwatch.api import (
    checkin,
    errors,
    events,
    exports,
    health,
    ingest,
    metrics,
    probes_read,
    registration,
    series,
)
from cutwatch.api import leader as detector_leader
from cutwatch.api.dashboard import pages as dashboard_pages
from cutwatch.api.db import make_pool
from cutwatch.api.geo import GeoLookup
from cutwatch.api.limits import LimitsMiddleware, RateLimiter
from cutwatch.api.migrate import apply_migrations
from cutwatch.api.settings import Settings
from cutwatch.api.state import AppState
from cutwatch.api.webhooks import dispatcher as webhook_dispatcher
from cutwatch.api.webhooks import routes as webhook_routes

log = logging.getLogger(__name__)

Worker = Callable[[AppState], Awaitable[None]]
RouterSource = APIRouter | Callable[[Settings], APIRouter]

# One line per stage. A factory receives the settings and returns its router.
ROUTERS: list[RouterSource] = [
    health.router,
    registration.router,
    ingest.router,
    probes_read.router,
    checkin.make_router,
    events.router,
    *webhook_routes.ROUTERS,
    series.router,
    exports.router,
    # The dashboard and /docs with its assets served from here (no CDN).
    dashboard_pages.make_router,
    metrics.router,
]

# Long-running tasks: `async def worker(state: AppState) -> None`, restarted (after a pause)
# if they crash. At shutdown `state.stopping` is set; workers still running after the grace
# period are cancelled.
WORKERS: list[Worker] = [webhook_dispatcher.worker, detector_leader.worker]

WORKER_RESTART_DELAY_S = 5.0
WORKER_STOP_GRACE_S = 5.0


def create_app(settings: Settings) -> FastAPI:
    """A ready-to-serve app; ``settings.database_url`` must be set (the CLI embeds one if not)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(settings)
        await pool.open(wait=True, timeout=30)
        geo = GeoLookup.open(settings.geoip_paths())
        state = AppState(settings=settings, pool=pool, geo=geo)
        tasks: list[asyncio.Task[None]] = []
        try:
            if settings.migrate_on_start:
                async with pool.connection() as conn:
                    await conn.set_autocommit(True)
                    applied = await apply_migrations(conn)
                    await conn.set_autocommit(False)
                if applied:
                    log.info("applied migrations: %s", ", ".join(applied))
            app.state.cutwatch = state
            tasks = [
                asyncio.create_task(_supervise(worker, state), name=_name(worker))
                for worker in WORKERS
            ]
            yield
        finally:
            # Workers watching `stopping` get a moment to finish their unit of work.
            state.stopping.set()
            if tasks:
                await asyncio.wait(tasks, timeout=WORKER_STOP_GRACE_S)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await pool.close()
            geo.close()

    app = FastAPI(
        title="Cutwatch collector",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served by the dashboard router, with local assets
        redoc_url=None,
    )
    for source in ROUTERS:
        app.include_router(source if isinstance(source, APIRouter) else source(settings))
    errors.install(app)
    limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.rate_limiter = limiter  # the auth dependencies count verified credentials
    app.add_middleware(LimitsMiddleware, default_cap=settings.max_request_bytes,
                       caps={"/v1/batches": settings.max_body_bytes}, limiter=limiter)
    # Added last, so outermost: it also counts what the limits refuse (413, 401, 429).
    app.add_middleware(metrics.IngestMetrics)
    return app


async def _supervise(worker: Worker, state: AppState) -> None:
    while not state.stopping.is_set():
        try:
            await worker(state)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s crashed; restarting in %.0f s", _name(worker),
                          WORKER_RESTART_DELAY_S)
        with suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), WORKER_RESTART_DELAY_S)


def _name(worker: Worker) -> str:
    return getattr(worker, "__qualname__", repr(worker))
