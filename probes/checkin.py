"""Check-in: fetch the catalogue and schedule from the collector, keep the last good one on disk.

At start the probe loads the saved catalogue, so it measures at once even if the collector is
unreachable (the case that matters most); it then checks in at start and every
``schedule.checkin`` seconds. A failed check-in changes nothing: the probe keeps measuring
with what it has.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from cutwatch.probes.config import write_state_file
from cutwatch.probes.targets import CheckinReply, parse_checkin_reply
from cutwatch.probes.validate import Invalid

log = logging.getLogger(__name__)

SAVED = "catalogue.json"


async def fetch(client: httpx.Client, collectors: tuple[str, ...],
                token: str) -> CheckinReply | str:
    """The reply of the first collector that gives a valid one, or the errors as one line."""
    errors = []
    for base in collectors:
        try:
            response = await asyncio.to_thread(
                client.get, f"{base}/v1/checkin", headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            return parse_checkin_reply(response.content)
        except (httpx.HTTPError, Invalid) as exc:
            errors.append(f"{base}: {type(exc).__name__}: {str(exc)[:150]}")
    return "; ".join(errors) or "no collector configured"


def save(state_dir: Path, reply: CheckinReply) -> None:
    write_state_file(state_dir / SAVED, reply.to_json())


def load(state_dir: Path) -> CheckinReply | None:
    path = state_dir / SAVED
    try:
        return parse_checkin_reply(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, Invalid) as exc:
        log.warning("ignoring unreadable saved catalogue %s: %s", path, str(exc)[:200])
        return None
