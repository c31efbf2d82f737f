"""``cutwatch replay``, ``simulate`` and ``bench detect``: the detector offline."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("replay", help="run the detector over a replay stream")
