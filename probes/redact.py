"""Redaction of household addresses: the last step before a check's details become a wire Result.

``cutwatch.probes.runner.measure`` calls ``redact`` on every check's details, so no check can
put the probe's own address, or an address that points at the volunteer's household network,
into the spool or an upload. The rule (docs/probe.md, "What is never collected"):

- addresses that are not globally routable (private, loopback, link-local, ULA, CGNAT) are kept:
  they say nothing about who the household is, and labs rely on them;
- a global address of the household is replaced by ``"redacted"``: one of the probe's own IPv4
  addresses, or an IPv6 address in the same /48 as one of the probe's own global IPv6 addresses
  (the router, the other machines of the home, the delegated prefix);
- the first ``EDGE_HOPS`` hops of a traceroute and a gateway are the home router / ISP edge:
  any global address there is redacted too (the hop number and RTT stay: the detector needs
  that the hop answered, not who);
- a system resolver inside the household network is reported as ``"system"`` with its family.

Addresses are found anywhere in the details, also inside text (error messages, URLs,
``[addr]:port``). The probe's own addresses are read from the kernel on every call
(``if_inet6`` and ``fib_trie`` under /proc/self/net): they change (DHCP, IPv6 privacy
addresses), and both files are small. If they cannot be read only the edge rules apply.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REDACTED = "redacted"
EDGE_HOPS = 2  # traceroute hops 1..2: the home router and the ISP's first router
HOUSEHOLD_V6_PREFIX = 48  # the largest prefix an ISP delegates to one customer
_TOKEN = re.compile(r"(?<![\w.:])[0-9A-Fa-f.:]{3,}(?!\w)")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class OwnNetwork:
    """The probe's global addresses: its IPv4 addresses, and the /48s of its IPv6 ones."""

    ipv4: frozenset[ipaddress.IPv4Address] = frozenset()
    ipv6_prefixes: frozenset[ipaddress.IPv6Network] = frozenset()

    @classmethod
    def of(cls, addresses: list[str]) -> OwnNetwork:
        ips = [ipaddress.ip_address(a) for a in addresses]
        return cls(
            frozenset(ip for ip in ips if isinstance(ip, ipaddress.IPv4Address) and ip.is_global),
            frozenset(ipaddress.IPv6Network((ip, HOUSEHOLD_V6_PREFIX), strict=False)
                      for ip in ips if isinstance(ip, ipaddress.IPv6Address) and ip.is_global))

    @classmethod
    def read(cls, proc_net: Path) -> OwnNetwork:
        return cls.of(interface_addresses(proc_net))

    def household(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv4Address):
            return ip in self.ipv4
        return any(ip in prefix for prefix in self.ipv6_prefixes)


def redact(kind: str, details: dict[str, Any], own: OwnNetwork, *,
           system_resolver: bool = False) -> dict[str, Any]:
    """A copy of ``details`` with no household address left in it (see the module docstring)."""
    details = dict(details)
    if system_resolver and isinstance(details.get("resolver"), str):
        host = _host_of(details["resolver"])
        if host is not None and host.is_global and own.household(host):
            details["resolver"] = "system"
            details["resolver_family"] = f"ipv{host.version}"
    if kind == "traceroute" and isinstance(details.get("hops"), list):
        details["hops"] = [_edge_hop(hop) for hop in details["hops"]]
    if kind == "gateway" and _is_global(details.get("gateway")):
        details["gateway"] = REDACTED
    return _walk(details, own)  # type: ignore[no-any-return]


def _edge_hop(hop: Any) -> Any:
    if (isinstance(hop, dict) and isinstance(hop.get("ttl"), int) and hop["ttl"] <= EDGE_HOPS
            and _is_global(hop.get("address"))):
        return hop | {"address": REDACTED}
    return hop


def _walk(value: Any, own: OwnNetwork) -> Any:
    if isinstance(value, str):
        return _TOKEN.sub(lambda m: _token(m.group(), own), value)
    if isinstance(value, dict):
        return {key: _walk(item, own) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, own) for item in value]
    return value


def _token(text: str, own: OwnNetwork) -> str:
    """``text`` with its address part replaced when that address belongs to the household."""
    for core in (text, text.rstrip("."), text.rstrip(".:")):  # "... 1.2.3.4." ends a sentence
        host, port = core, ""
        if core.count(":") == 1 and "." in core:  # IPv4 address with a port
            host, _, number = core.partition(":")
            port = ":" + number
        ip = _parse(host)
        if ip is not None:
            if ip.is_global and own.household(ip):
                return REDACTED + port + text[len(core):]
            return text
    return text


def _is_global(value: Any) -> bool:
    ip = _parse(value) if isinstance(value, str) else None
    return ip is not None and ip.is_global


def _parse(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None


def _host_of(endpoint: str) -> IPAddress | None:
    """The address of ``addr``, ``addr:port`` or ``[v6]:port``."""
    if endpoint.startswith("["):
        return _parse(endpoint[1:].partition("]")[0])
    if endpoint.count(":") == 1:
        return _parse(endpoint.partition(":")[0])
    return _parse(endpoint)


def interface_addresses(proc_net: Path) -> list[str]:
    """Every address on the probe's interfaces (none when the kernel files are unreadable)."""
    return _if_inet6(proc_net / "if_inet6") + _fib_local(proc_net / "fib_trie")


def _if_inet6(path: Path) -> list[str]:
    """Every IPv6 address on the probe's interfaces (32 hex digits first on each line)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                out.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
            except ValueError:
                continue
    return out


def _fib_local(path: Path) -> list[str]:
    """Every IPv4 address on the probe's interfaces: the ``/32 host LOCAL`` leaves of the FIB."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for before, line in itertools.pairwise(lines):
        if line.split() == ["/32", "host", "LOCAL"] and before.strip().startswith("|--"):
            out.append(before.strip()[3:].strip())
    return [a for a in out if _parse(a) is not None]
