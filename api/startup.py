"""What `cutwatch serve` checks before it starts anything: each mistake as one line.

Without these checks a wrong setting surfaces deep inside the start-up (a connection pool
that gives up after 30 s with a 70-line traceback, a ``CatalogueError`` raised while building
the app, uvicorn's own log lines for a port in use). Each check here raises ``StartupError``
with one sentence naming the setting; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from cutwatch.api.settings import Settings

# How long `cutwatch serve` waits for the database before saying it is unreachable.
DATABASE_TIMEOUT_S = 5
SCHEMES = ("postgresql", "postgres")


class StartupError(Exception):
    """A setting the service cannot start with; the message is one line."""


def check(settings: Settings) -> None:
    """Every check, cheapest first; raises ``StartupError`` on the first failure."""
    check_database_scheme(settings.database_url)
    if settings.catalogue is not None:
        check_catalogue(settings.catalogue)
    check_geoip(settings.geoip_paths())
    check_port(settings.host, settings.port)
    if settings.database_url:
        check_database(settings.database_url)


def check_database_scheme(url: str | None) -> None:
    """Only PostgreSQL; the URL itself is never echoed (it may carry a password)."""
    if url is None:
        return
    if "://" not in url and "=" in url:
        return  # a libpq "key=value" connection string, as psycopg accepts
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in SCHEMES:
        shown = f"{scheme}://" if scheme else "no scheme"
        raise StartupError(f"DATABASE_URL must be a postgresql:// URL, got {shown}")


def check_database(url: str, timeout: int = DATABASE_TIMEOUT_S) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else type(exc).__name__
        raise StartupError(f"database unreachable within {timeout} s: {first}") from None


def check_catalogue(path: Path) -> None:
    from cutwatch.api.catalogue import CatalogueError, parse

    if not path.is_file():
        raise StartupError(f"catalogue not found: {path} (CUTWATCH_CATALOGUE)")
    try:
        parse(path)
    except CatalogueError as exc:
        raise StartupError(_one_line(str(exc))) from None


def check_geoip(paths: Iterable[Path]) -> None:
    import maxminddb

    for path in paths:
        if not path.is_file():
            raise StartupError(f"GeoIP database not found: {path}")
        try:
            maxminddb.open_database(str(path)).close()
        # maxminddb's InvalidDatabaseError is a RuntimeError; a directory or no access: OSError
        except (OSError, ValueError, RuntimeError) as exc:
            raise StartupError(f"GeoIP database {path} is not a readable MaxMind DB file: "
                               f"{_one_line(str(exc))}") from None


def check_port(host: str, port: int) -> None:
    """Bind once the way uvicorn will (SO_REUSEADDR), so a taken port is said up front."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            hint = " (CUTWATCH_PORT or --port)" if exc.errno == 98 else ""
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())
