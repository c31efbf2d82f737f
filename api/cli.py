"""``cutwatch serve``, ``cutwatch db migrate`` and ``cutwatch admin ...``: the collector.

Only the standard library is imported here; the service loads when a handler runs, so the
probe-only install can still print ``cutwatch --help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cutwatch.cli import CliError

_ENV = (
    "Settings come from the environment (CUTWATCH_* and DATABASE_URL, see docs/operations.md); "
    "flags override them. Without a database URL an embedded PostgreSQL runs in the data dir."
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve", help="run the collector service", description=f"Run the collector. {_ENV}"
    )
    _database_flags(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations")
    serve.add_argument(
        "--demo", action="store_true",
        help="also run a local probe measuring loopback lab targets, so data flows at once",
    )
    serve.add_argument(
        "--drill", action="store_true",
        help="with --demo, as root: first the blackout drill in network namespaces (an event "
        "and its webhooks within a few minutes); without root, one line and the demo",
    )
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="storage maintenance", description=_ENV)
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_commands.add_parser(
        "migrate", help="apply pending SQL migrations", description="Apply pending migrations "
        "(safe while replicas run: an advisory lock serialises them). " + _ENV,
    )
    _database_flags(migrate)
    migrate.set_defaults(handler=_migrate)

    admin = commands.add_parser("admin", help="operator tasks", description=_ENV)
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    enroll = admin_commands.add_parser(
        "enroll", help="issue an enrollment token probes can register with",
        description="Issue an enrollment token (printed once as JSON; stored only as a hash). "
        "Volunteers' probes register with it: POST /v1/probes. " + _ENV,
    )
    _database_flags(enroll)
    enroll.add_argument("--label", help="what the token is for (shown to operators only)")
    uses = enroll.add_mutually_exclusive_group()
    uses.add_argument("--uses", type=int, default=1, help="registrations allowed (default 1)")
    uses.add_argument("--unlimited", action="store_true", help="any number until expiry")
    enroll.add_argument(
        "--expires-in", type=float, default=72.0, metavar="HOURS", help="lifetime (default 72)"
    )
    enroll.set_defaults(handler=_enroll)
    enroll.add_argument("--operator", help="who the token is handed to; probes registering "
                        "with it are grouped under this name (default: the token id)")
    probe = admin_commands.add_parser("probe", help="approve probes", description=_ENV)
    probe_commands = probe.add_subparsers(dest="probe_command", metavar="ACTION",
                                          required=True)
    approve = probe_commands.add_parser(
        "approve", help="let a probe's results count",
        description="Approve a probe registered with an enrollment token: its results count "
        "from now on (CUTWATCH_REQUIRE_PROBE_APPROVAL). Printed as JSON. " + _ENV)
    _database_flags(approve)
    approve.add_argument("probe_id")
    approve.set_defaults(handler=_approve)
    __import__("cutwatch.api.webhooks.cli", fromlist=["register"]).register(admin_commands)
    _register_detect(commands)
    __import__("cutwatch.api.drill.cli", fromlist=["register"]).register(commands)
    _register_demo(commands)


def _database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="PostgreSQL URL (default: $DATABASE_URL)")
    parser.add_argument("--data-dir", type=Path, help="embedded PostgreSQL data (default ./var)")


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from pydantic import ValidationError

    from cutwatch.api.errors import describe_errors
    from cutwatch.api.settings import Settings

    overrides = {
        "database_url": args.database_url,
        "data_dir": args.data_dir,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        **extra,
    }
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise CliError(f"invalid settings: {describe_errors(exc.errors())}") from None


def _serve(args: argparse.Namespace) -> int:
    from cutwatch.api.server import serve
    from cutwatch.api.startup import StartupError, check

    if args.drill and not args.demo:
        raise CliError("--drill goes with --demo")
    settings = _settings(args, migrate_on_start=False if args.no_migrate else None)
    try:
        check(settings)
    except StartupError as exc:
        raise CliError(str(exc)) from None
    if args.demo:
        from cutwatch.api.demo import drill_first, run

        if args.drill:
            drill_first()
        run(settings, log_level=args.log_level)
        return 0
    serve(settings, log_level=args.log_level)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    import asyncio

    from cutwatch.api.embedded import database_url
    from cutwatch.api.migrate import migrate_url

    settings = _settings(args)
    with database_url(settings.database_url, settings.data_dir) as url:
        applied = asyncio.run(_checked(migrate_url(url)))
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from datetime import timedelta

    if not args.unlimited and not 1 <= args.uses <= 2**31 - 1:
        raise CliError("--uses must be between 1 and 2147483647")
    for flag, text in (("--label", args.label), ("--operator", args.operator)):
        if text is not None and ("\x00" in text or len(text) > 100):
            raise CliError(f"{flag} must be at most 100 characters, without NUL")
    if not 0 < args.expires_in <= 24 * 366:
        raise CliError("--expires-in must be between 0 and 8784 hours")
    from cutwatch.api.registration import create_enrollment_token

    token = on_database(args, lambda conn: create_enrollment_token(
        conn, label=args.label, max_uses=None if args.unlimited else args.uses,
        expires_in=timedelta(hours=args.expires_in), operator=args.operator,
    ))
    json.dump(token.model_dump(mode="json"), sys.stdout, indent=2)
    print()
    return 0


def _approve(args: argparse.Namespace) -> int:
    from cutwatch.api.registration import approve

    approved = on_database(args, lambda conn: approve(conn, args.probe_id))
    if approved is None:
        raise CliError(f"no such probe: {args.probe_id}")
    json.dump(approved.model_dump(mode="json"), sys.stdout, indent=2)
    print()
    return 0


def on_database(args: argparse.Namespace, action: Any) -> Any:
    """Run ``await action(conn)`` on a migrated autocommit connection to the settings' database.

    For the ``cutwatch admin`` commands, which may run before the service ever started.
    """
    import asyncio

    import psycopg

    from cutwatch.api.embedded import database_url
    from cutwatch.api.migrate import apply_migrations

    async def go(url: str) -> Any:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await apply_migrations(conn)
            return await action(conn)

    settings = _settings(args)
    with database_url(settings.database_url, settings.data_dir) as url:
        return asyncio.run(_checked(go(url)))


async def _checked(coro: Any) -> Any:
    """Database trouble as one line instead of a traceback."""
    import psycopg

    try:
        return await coro
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"database unreachable: {first}") from None


def _register_detect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    detect = commands.add_parser(
        "detect", help="run the event detector as a process of its own",
        description="Run the detector's leader election (one leader at a time over the "
        "database; others stand by) until SIGTERM. Set CUTWATCH_DETECTOR=off on "
        "the `cutwatch serve` replicas when this runs. Needs a migrated database. " + _ENV,
    )
    detect.add_argument("--database-url", help="PostgreSQL URL (default: $DATABASE_URL)")
    detect.add_argument("--metrics-port", type=int,
                        help="serve Prometheus metrics of this process on this port")
    detect.add_argument("--metrics-host", default="127.0.0.1",
                        help="address for --metrics-port (default 127.0.0.1)")
    detect.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    detect.set_defaults(handler=_detect, data_dir=None)


def _detect(args: argparse.Namespace) -> int:
    import logging

    from cutwatch.api.leader import detect

    settings = _settings(args)
    if not settings.database_url:
        raise CliError("cutwatch detect needs a database: set DATABASE_URL or --database-url")
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        raise CliError("--metrics-port must be between 1 and 65535")
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from cutwatch.api.leader import OnlineConfig, overridden
    from cutwatch.detectors.params import Params

    detect(settings.database_url, metrics_port=args.metrics_port,
           metrics_host=args.metrics_host,
           params=overridden(Params, settings.detector_params),
           config=overridden(OnlineConfig, settings.detector_online))
    return 0


def _register_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="cut a province of the 'serve --demo' fleet, to see an event happen",
        description="'cutwatch serve --demo' runs probes in MM-07 (Bago) and MM-06 (Yangon) "
        "behind loopback gates; 'cut' makes one province's gates drop every connection "
        "(its probes go silent and buffer), 'restore' reopens them. Run from the directory "
        "the demo runs in (or pass the same --data-dir).",
    )
    actions = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    cut = actions.add_parser("cut", help="cut a province off")
    cut.add_argument("subdivision", help="MM-07 or MM-06")
    cut.add_argument("--minutes", type=float, default=3.0,
                     help="the cut ends by itself after this long (default 3)")
    restore = actions.add_parser("restore", help="end a cut now")
    restore.add_argument("subdivision", help="MM-07 or MM-06")
    for parser in (cut, restore):
        parser.add_argument("--data-dir", type=Path, default=Path("var"),
                            help="the demo's data dir (default ./var)")
        parser.set_defaults(handler=_demo_cut)


def _demo_cut(args: argparse.Namespace) -> int:
    from cutwatch.api.demo_cut import set_cut

    minutes = getattr(args, "minutes", None)
    if minutes is not None and not 0 < minutes <= 24 * 60:
        raise CliError("--minutes must be between 0 and 1440")
    try:
        set_cut(args.data_dir / "demo", args.subdivision.upper(),
                None if minutes is None else minutes * 60)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if minutes is None:
        print(f"{args.subdivision.upper()} restored: its probes upload their backlog now")
    else:
        print(f"{args.subdivision.upper()} cut off for {minutes:g} min: watch /v1/events")
    return 0
