"""The webhook routers, as one list for ``cutwatch.api.app.ROUTERS``."""

from __future__ import annotations

from fastapi import APIRouter

from cutwatch.api.webhooks import feeds, subscribers, subscriptions

ROUTERS: list[APIRouter] = [subscribers.router, subscriptions.router, feeds.router]
