"""The webhook routers, as one list for ``api.app.ROUTERS``."""

from __future__ import annotations

from fastapi import APIRouter

from api.webhooks import subscribers, subscriptions

ROUTERS: list[APIRouter] = [subscribers.router, subscriptions.router]
