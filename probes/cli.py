"""``cutwatch probe ...``: run the agent, one round, or show its status."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("probe", help="run the measurement agent (volunteers)")
    parser.add_subparsers(dest="probe_command", metavar="ACTION", required=True)
