"""Settings for the webhook tests, which run the whole service (tests/live_service.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cutwatch.api.settings import Settings

ADMIN = "admin-token-for-webhook-tests"


def settings_for(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url, "admin_token": ADMIN, "data_dir": tmp_path / "var",
        "pool_max_size": 4, "public_base_url": "https://cutwatch.example",
        "webhook_allow_private": True, "webhook_retry_schedule": (0, 0.2, 0.2, 0.2),
    }
    return Settings(**{**values, **extra})
