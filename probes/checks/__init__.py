"""Checks: one module per kind, one signature (``base.Check``), one registry (``CHECKS``).

Keyed by the literal that names the kind on the wire (``cutwatch.wire.CheckKind``). A new
check is one new module plus one line here. ``cutwatch.probes.runner`` turns an ``Outcome``
into a wire ``Result`` and guarantees that no check ever raises.
"""

from __future__ import annotations

from typing import Any

from cutwatch.probes.checks.base import Check
from cutwatch.probes.checks.dns import check as dns_check
from cutwatch.probes.checks.gateway import check as gateway_check
from cutwatch.probes.checks.http import check as http_check
from cutwatch.probes.checks.icmp import check as icmp_check
from cutwatch.probes.checks.tcp import check as tcp_check
from cutwatch.probes.checks.traceroute import check as traceroute_check
from cutwatch.vocab import CheckKind

CHECKS: dict[CheckKind, Check[Any]] = {
    "dns": dns_check,
    "tcp": tcp_check,
    "http": http_check,
    "gateway": gateway_check,
    "icmp": icmp_check,
    "traceroute": traceroute_check,
}
