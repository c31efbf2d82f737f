"""What admission (api.admission: time bounds, storability, one result refused alone) costs
over the bare schema validation of a batch, measured in one run: ``python -m
tests.bench.admission``. Pure CPU, no database, no network."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cutwatch.api.admission import Bounds, admit
from cutwatch.wire import Batch

SIZES = (1, 100, 500)


def result(i: int, bad: bool = False) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "kind": "smoke" if bad else "dns", "target": f"t{i}",
            "scope": "domestic", "family": "ipv4",
            "measured_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "duration_ms": 12.5, "ok": False, "failure": "dns_nxdomain_error",
            "details": {"rcode": 3, "qname": "example.test.", "answers": ["192.0.2.1"]}}


def body(size: int, bad: bool = False) -> bytes:
    return json.dumps({
        "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": "p-bench",
        "sent_at": datetime.now(UTC).isoformat(), "clock": {"synced": True, "offset_ms": 1.0},
        "heartbeat": {"seq": 1, "spool_depth": 0, "dropped_total": 0},
        "results": [result(i, bad and i == size // 2) for i in range(size)],
    }).encode()


def rate(work: Callable[[bytes], object], bodies: list[bytes], size: int) -> float:
    started = time.perf_counter()
    for one in bodies:
        work(one)
    return len(bodies) * size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=50_000, help="results per measurement")
    args = parser.parse_args()
    bounds = Bounds(datetime.now(UTC), timedelta(days=366), timedelta(seconds=600))
    print(f"{'batch':>6}{'schema only/s':>15}{'admission/s':>13}{'ratio':>7}"
          f"{'one bad result/s':>18}{'ratio':>7}")
    for size in SIZES:
        count = max(1, args.total // size)
        good = [body(size) for _ in range(count)]
        bad = [body(size, bad=True) for _ in range(count)]
        floor = rate(Batch.model_validate_json, good, size)
        admitted = rate(lambda b: admit(b, bounds), good, size)
        apart = rate(lambda b: admit(b, bounds), bad, size)
        print(f"{size:>6}{floor:>15,.0f}{admitted:>13,.0f}{admitted / floor:>7.2f}"
              f"{apart:>18,.0f}{apart / floor:>7.2f}")


if __name__ == "__main__":
    main()
