"""One collector per module, fed with the ongoing province blackout of ``dashboard_blackout.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_blackout import Loaded, load
from live_service import LiveService

from cutwatch.api.settings import Settings


@pytest.fixture
def blackout(database_url: str) -> Loaded:
    return load(database_url)


@pytest.fixture
def collector(database_url: str, blackout: Loaded, tmp_path: Path) -> Iterator[LiveService]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "var", pool_max_size=4,
                        public_base_url="https://cutwatch.example")
    with LiveService(settings) as live:
        yield live
