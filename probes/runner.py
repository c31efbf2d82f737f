"""Runs one check of one target in one IP family and makes the wire ``Result`` of it.

This is the single place where a check's ``Outcome`` becomes a wire ``Result``
(``cutwatch.probes.records``) (id, time, duration, scope from the target's tag), where a bug
inside a check is contained (it becomes ``probe_error`` instead of stopping the probe), and
where the details lose every household address (``cutwatch.probes.redact``) before anything is
spooled or uploaded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from cutwatch.probes.checks import CHECKS
from cutwatch.probes.checks.base import Context, Outcome
from cutwatch.probes.records import Result
from cutwatch.probes.redact import OwnNetwork, redact
from cutwatch.probes.targets import BaseTarget, DnsTarget
from cutwatch.vocab import Family

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    # Millisecond precision: finer digits are noise that costs spool and upload bytes.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def jobs(targets: tuple[BaseTarget, ...]) -> Iterator[tuple[BaseTarget, Family]]:
    """Every (target, family) pair: each family is its own measurement."""
    for target in targets:
        for family in target.families:
            yield target, family


async def measure(target: BaseTarget, family: Family, context: Context,
                  now: Callable[[], datetime] = utcnow) -> Result:
    measured_at = now()
    started = time.monotonic()
    try:
        outcome = await CHECKS[target.kind](target, family, context)
    except Exception as exc:  # a bug in one check must not stop the others
        log.exception("check %s of %s crashed", target.kind, target.name)
        outcome = Outcome.failed("probe_error", reason=f"check crashed: {type(exc).__name__}")
    return Result(
        id=uuid.uuid4(), kind=target.kind, target=target.name, scope=target.tag, family=family,
        measured_at=measured_at, duration_ms=round((time.monotonic() - started) * 1000, 2),
        ok=outcome.ok, failure=None if outcome.ok else (outcome.failure or "unknown_failure"),
        details=redact(target.kind, outcome.details, OwnNetwork.read(context.proc_net),
                       system_resolver=isinstance(target, DnsTarget)
                       and target.resolver == "system"),
    )
