"""A stream whose lines are slightly out of received_at order replays as the ordered one.

docs/events.md orders replay streams by received_at, but a stream merged from several
collector replicas' logs is only ordered to within their clock skew and commit delays.
"""

from __future__ import annotations

import json
import random

from detector_cases import CASES, run, stream

PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")


def jostled(lines: tuple[str, ...], spread_s: float, seed: int = 7) -> list[str]:
    """Each upload moved by up to ``spread_s`` of received_at; probe lines stay first."""
    rng = random.Random(seed)
    keyed = []
    for index, line in enumerate(lines):
        item = json.loads(line)
        if item["type"] == "probe":
            keyed.append((float("-inf"), index, line))
            continue
        seconds = _epoch(item["received_at"]) + rng.uniform(-spread_s, spread_s)
        keyed.append((seconds, index, line))
    return [line for _, _, line in sorted(keyed)]


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_lines_out_of_order_by_seconds_give_the_same_transitions() -> None:
    ordered = stream(PROVINCE)
    shuffled = jostled(ordered, spread_s=30)
    assert shuffled != list(ordered), "the jostle must actually reorder lines"
    assert run(shuffled) == run(ordered)
