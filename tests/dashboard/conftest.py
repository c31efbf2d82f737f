"""One collector per module, fed with the ongoing province blackout of ``dashboard_blackout.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_blackout import Loaded, load
from live_service import LiveService

from cutwatch.api.settings import Settings


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    """The module's database: the blackout is loaded once per module (a few seconds of
    simulation and COPY) and the tests only read it; the one module that writes has a single
    test."""
    return module_database_url


@pytest.fixture(scope="module")
def blackout(database_url: str) -> Loaded:
    return load(database_url)


@pytest.fixture(scope="module")
def collector(database_url: str, blackout: Loaded,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    tmp_path = tmp_path_factory.mktemp("collector")
    # The events are stored by ``load``: no leader (a child process rebuilding the replayed
    # hours of history meanwhile) to compete with the browser for the CPU.
    settings = Settings(database_url=database_url, data_dir=tmp_path / "var", pool_max_size=4,
                        public_base_url="https://cutwatch.example", detector="off")
    with LiveService(settings) as live:
        yield live
