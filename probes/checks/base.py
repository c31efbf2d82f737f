"""The one signature every check has, and what it returns.

``async def check(target, family, context) -> Outcome``: the target (validated), the IP family
to measure, and the probe's context (paths, capabilities, shared fingerprints). Network
failures are returned as an ``Outcome`` with a failure from ``cutwatch.failures``; only a bug
raises, and the runner turns that into ``probe_error``.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cutwatch.failures import Failure
from cutwatch.probes.targets import BaseTarget, BlockPage
from cutwatch.vocab import Family

T_contra = TypeVar("T_contra", bound=BaseTarget, contravariant=True)

FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    failure: Failure | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def success(cls, **details: Any) -> Outcome:
        return cls(ok=True, details=details)

    @classmethod
    def failed(cls, failure: Failure, **details: Any) -> Outcome:
        return cls(ok=False, failure=failure, details=details)


@dataclass(frozen=True)
class Context:
    """What a check may know about the machine it runs on; built once at the entry point."""

    resolv_conf: Path = Path("/etc/resolv.conf")
    proc_net: Path = Path("/proc/self/net")  # also visible under systemd ProcSubset=pid
    raw_sockets: bool = False  # CAP_NET_RAW available (icmp, traceroute)
    block_pages: tuple[BlockPage, ...] = ()
    user_agent: str = "cutwatch-probe"


class Check(Protocol[T_contra]):
    def __call__(
        self, target: T_contra, family: Family, context: Context
    ) -> Awaitable[Outcome]: ...


def raw_sockets_allowed() -> bool:
    """Whether this process may open raw sockets (root or CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True
