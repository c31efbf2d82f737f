"""What the running service shares with its routers and workers: settings, pool, geo lookup.

``create_app`` builds one ``AppState`` in the lifespan and keeps it on ``app.state.cutwatch``;
routers reach it through the ``StateDep`` / ``PoolDep`` dependencies, workers receive it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from cutwatch.api.db import Conn
from cutwatch.api.settings import Settings

if TYPE_CHECKING:
    from cutwatch.api.geo import GeoLookup


@dataclass
class AppState:
    settings: Settings
    pool: AsyncConnectionPool[Conn]
    geo: GeoLookup
    # Set when the service begins to shut down; workers may watch it to finish a unit of work.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Free room for other stages' long-lived objects (one key per stage).
    extras: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.cutwatch
    return state


def get_pool(request: Request) -> AsyncConnectionPool[Conn]:
    return get_state(request).pool


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
PoolDep = Annotated[AsyncConnectionPool[Conn], Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
