"""Scapy's packet layers without the 20 MB scapy loads at import for features a probe never uses.

Importing any scapy layer runs ``scapy.data``, which parses Wireshark's vendor database
(200 000 objects, ~14 MB) and the Bluetooth ids into memory, and pulls in ``cryptography``.
The probe only builds and parses DNS/IP/ICMP packets, and must stay under 50 MB RSS on a Pi
Zero, so the first import here swaps those data modules for empty ones, turns scapy's on-disk
cache off (so the empty tables never reach the cache other scapy users read) and hides
``cryptography`` from scapy's optional-feature probe. Later imports are the usual cached ones.
"""

from __future__ import annotations

import sys
import types


def _lean_import() -> None:
    if "scapy.data" in sys.modules:
        return  # scapy already loaded in full (tests, a host process): nothing left to save
    import scapy.main

    scapy.main.SCAPY_CACHE_FOLDER = None  # type: ignore[attr-defined,unused-ignore]
    saved = {name: sys.modules.get(name) for name in _STUBS} | {"cryptography": None}
    for name, data in _STUBS.items():
        stub = types.ModuleType(name)
        stub.DATA = data  # type: ignore[attr-defined]
        sys.modules[name] = stub
    had_crypto = "cryptography" in sys.modules
    if not had_crypto:
        sys.modules["cryptography"] = None  # type: ignore[assignment]
    try:
        import scapy.layers.dns
        import scapy.layers.inet6
    finally:
        for name in _STUBS:
            if saved[name] is None:
                del sys.modules[name]
        if not had_crypto:
            del sys.modules["cryptography"]


_STUBS: dict[str, object] = {"scapy.libs.manuf": "", "scapy.libs.bluetoothids": {}}

_lean_import()

from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402 - after the lean import
from scapy.layers.inet import ICMP, IP  # noqa: E402
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest  # noqa: E402

__all__ = ["DNS", "DNSQR", "DNSRR", "ICMP", "IP", "ICMPv6EchoReply", "ICMPv6EchoRequest"]
