"""Made-up results for spool and uploader tests (the checks themselves are tested on the lab)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cutwatch.probes.records import Result


def result(n: int = 0, *, age_s: float = 0, target: str = "t") -> Result:
    return Result(id=uuid.uuid4(), kind="tcp", target=f"{target}{n % 20}", scope="domestic",
                  family="ipv4", measured_at=datetime.now(UTC) - timedelta(seconds=age_s),
                  duration_ms=12.5, ok=n % 3 != 0,
                  failure=None if n % 3 else "connection_refused",
                  details={"host": "127.0.0.1", "port": 443, "connect_ms": 12.1})
