"""``cutwatch serve`` and ``cutwatch db ...``: the collector service and its storage."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("serve", help="run the collector service")
