"""``GET /v1/checkin``: a probe fetches its catalogue and schedule (and the collector's time).

Authenticated as the probe (``Authorization: Bearer <probe_id>.<secret>``); the catalogue is
cut to the probe's declared country (see ``cutwatch.api.catalogue``). The reply is the
``cutwatch.catalogue.CheckinReply`` model (the probe parses the same JSON by hand).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from cutwatch.api.auth import ProbeDep
from cutwatch.api.catalogue import CatalogueFile
from cutwatch.api.settings import Settings
from cutwatch.catalogue import CheckinReply


def make_router(settings: Settings) -> APIRouter:
    """The check-in router over the catalogue file named in the settings (read at start)."""
    catalogue = CatalogueFile(settings.catalogue)
    router = APIRouter(tags=["probes"])

    @router.get("/v1/checkin", response_model=CheckinReply)
    async def checkin(probe: ProbeDep) -> CheckinReply:
        current = catalogue.get()
        return CheckinReply(server_time=datetime.now(UTC),
                            catalogue=current.for_probe(probe.country),
                            schedule=current.schedule)

    return router
