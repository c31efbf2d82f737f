"""``cutwatch probe ...``: run the agent, one round, its status, or register with a collector.

Only the standard library is imported here; each handler loads the probe when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from cutwatch.cli import CliError

DEFAULT_CONFIG = Path("/etc/cutwatch/probe.toml")


class _OneLineParser(argparse.ArgumentParser):
    """Wrong flags: one line on stderr, exit 2 (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "probe", help="run the measurement agent (volunteers)",
        description="The probe agent volunteers run: measures targets, spools results, "
        "uploads them to the collector. See docs/probe.md.")
    actions = parser.add_subparsers(dest="probe_command", metavar="ACTION", required=True,
                                    parser_class=_OneLineParser)
    run = actions.add_parser("run", help="measure and upload until stopped",
                             description="Run the agent until SIGTERM/Ctrl-C.")
    _config_flag(run)
    run.add_argument("--log-level", default="info",
                     choices=("critical", "error", "warning", "info", "debug"))
    run.set_defaults(handler=_run)

    once = actions.add_parser("once", help="one round of every check, printed as JSON",
                              description="Measure every target once and print the results "
                              "as a JSON array. Nothing is spooled or uploaded.")
    _config_flag(once)
    once.set_defaults(handler=_once)

    status = actions.add_parser("status", help="spool, uploads and last results",
                                description="Show spool depth, the last upload and its error, "
                                "bytes sent today and the last result of each check.")
    _config_flag(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    reg = actions.add_parser(
        "register", help="register this probe with a collector",
        description="Register with a collector (POST /v1/probes) using an enrollment token "
        "from its operator, and store the probe's credentials (mode 0600) in the state dir.")
    reg.add_argument("--collector", required=True, help="collector base URL")
    reg.add_argument("--token", required=True, help="enrollment (or admin) token")
    reg.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. MM")
    reg.add_argument("--subdivision", help="ISO 3166-2, e.g. MM-07")
    reg.add_argument("--city", help="nearest town (coarse: never a street or address)")
    reg.add_argument("--access", required=True, choices=("fixed", "mobile", "satellite"))
    reg.add_argument("--name", help="a label for the operator (optional)")
    reg.add_argument("--state-dir", type=Path, help="where to store the credentials (default: "
                     "the config's state_dir; for a new config, probe-state/ beside it; "
                     "else /var/lib/cutwatch-probe)")
    reg.add_argument("--config", type=Path, help="take the state dir from this config; if the "
                     "file does not exist, write it (state dir and collector) after registering")
    reg.set_defaults(handler=_register)


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help=f"probe config file (default {DEFAULT_CONFIG})")


def _load(path: Path) -> Any:
    from cutwatch.probes.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from cutwatch.probes.config import ConfigError
    from cutwatch.probes.main import run

    try:
        return run(_load(args.config), args.log_level)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _once(args: argparse.Namespace) -> int:
    from cutwatch.probes.main import once

    output = once(_load(args.config))
    if output == "[]":
        print("cutwatch: no targets: add [[targets]] to the config, or let 'probe run' fetch "
              "the collector's catalogue first", file=sys.stderr)
    print(output)
    return 0


def _status(args: argparse.Namespace) -> int:
    from cutwatch.probes.status import render

    print(render(_load(args.config), as_json=args.json))
    return 0


def _register(args: argparse.Namespace) -> int:
    from cutwatch.probes.config import ConfigError, ProbeSection, collector_url, write_new_config
    from cutwatch.probes.register import register_probe

    config: Path | None = args.config
    new_config = config is not None and not config.exists()
    state_dir: Path | None = args.state_dir
    if config is not None and not new_config:
        configured = _load(config).probe.state_dir
        if state_dir is not None and state_dir.resolve() != configured.resolve():
            raise CliError(f"--state-dir {state_dir} differs from state_dir {configured} in "
                           f"{config}: give one of them")
        state_dir = configured
    if state_dir is None:
        # A volunteer trying the probe by hand is not root: keep it beside the new config.
        state_dir = config.parent / "probe-state" if config else ProbeSection().state_dir
    try:
        collector = collector_url(args.collector)
        path, probe_id = register_probe(
            collector, args.token, state_dir=state_dir, country=args.country,
            subdivision=args.subdivision, city=args.city, access=args.access, name=args.name)
        if config is not None and new_config:
            write_new_config(config, state_dir=state_dir, collector=collector)
    except (ValueError, ConfigError, OSError) as exc:  # ValueError: a malformed collector URL
        raise CliError(str(exc)) from None
    print(f"registered as {probe_id}; credentials in {path}", file=sys.stderr)
    if config is not None and new_config:
        print(f"wrote {config}: add your own [[targets]] there (see docs/probe.md)",
              file=sys.stderr)
    return 0
