"""Entry points behind the CLI: build the settings and context once, then run the agent."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context, raw_sockets_allowed
from cutwatch.probes.config import ProbeConfig, load_credentials
from cutwatch.probes.spool import Spool, SpoolLimits, SpoolWriter

SPOOL = "spool.sqlite3"
M_ARENA_MAX = -8  # mallopt() parameter, from glibc's malloc.h


def spool_for(config: ProbeConfig) -> Spool:
    limits = SpoolLimits(max_bytes=int(config.spool.max_mb * 1_000_000),
                         max_age_s=config.spool.max_age_days * 86_400)
    return Spool(config.probe.state_dir / SPOOL, limits)


def limit_malloc_arenas(arenas: int = 1) -> None:
    """glibc gives every thread its own malloc arena (up to 8 per core); the probe's few
    resolver threads need none of their own. Must run before threads start."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)


def run(config: ProbeConfig, log_level: str = "info") -> int:
    limit_malloc_arenas()
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: one line per target per round would bury the agent's
    # own lines in the journal. Its requests show at debug level.
    if log_level.lower() != "debug":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    credentials = load_credentials(config)
    from cutwatch.probes.clock import clock_synced

    spool = spool_for(config)
    writer = SpoolWriter(spool.path, spool.limits)
    agent = Agent(config, Context(raw_sockets=raw_sockets_allowed()), spool, writer=writer)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Name lookups and HTTP requests run in these threads; a few are plenty.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=4))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop, credentials, clock_synced)

    try:
        asyncio.run(main())
    finally:
        writer.close()
        spool.close()
    return 0


def once(config: ProbeConfig) -> str:
    """One round of every target (the volunteer's and the last saved catalogue's), as JSON."""
    from cutwatch.probes import checkin

    agent = Agent(config, Context(raw_sockets=raw_sockets_allowed()))
    saved = checkin.load(config.probe.state_dir)
    if saved is not None:
        agent.apply(saved)
    results = asyncio.run(agent.measure_round())
    return json.dumps([r.to_wire() for r in results], indent=2, ensure_ascii=False)
