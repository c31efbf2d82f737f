"""TCP check: connect to host:port in one IP family, then wait briefly for a reset.

Refused, reset, timeout, host unreachable and network unreachable are told apart
(``cutwatch.probes.checks.errors``). After the handshake the check optionally sends ``payload`` and
listens ``linger`` seconds: middleboxes that reset on what they see arrive in that window.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from cutwatch.probes.checks.base import FAMILIES, Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.targets import TcpTarget
from cutwatch.vocab import Family


async def check(target: TcpTarget, family: Family, context: Context) -> Outcome:
    loop = asyncio.get_running_loop()
    started = loop.time()
    details: dict[str, Any] = {"host": target.host, "port": target.port}
    try:
        address = await resolve(target.host, target.port, family)
    except OSError as exc:
        return Outcome.failed(classify_os_error(exc), **details, phase="resolve", error=str(exc))
    details["address"] = address[0]
    sock = socket.socket(FAMILIES[family], socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        phase = "connect"
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), target.timeout)
            details["connect_ms"] = round((loop.time() - started) * 1000, 2)
            phase = "after_connect"
            if target.payload:
                await loop.sock_sendall(sock, target.payload.encode())
            if target.linger:
                details["eof"] = await _linger(loop, sock, target.linger)
        except OSError as exc:  # TimeoutError is an OSError
            return Outcome.failed(classify_os_error(exc), **details, phase=phase, error=str(exc))
    finally:
        sock.close()
    return Outcome.success(**details)


async def _linger(loop: asyncio.AbstractEventLoop, sock: socket.socket, seconds: float) -> bool:
    """True when the peer closed cleanly in the window; a reset raises ConnectionResetError."""
    try:
        data = await asyncio.wait_for(loop.sock_recv(sock, 1024), seconds)
    except TimeoutError:
        return False
    return data == b""


async def resolve(host: str, port: int, family: Family) -> tuple[Any, ...]:
    """The first address of ``host`` in ``family`` (the system resolver, like any client)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # an address needs no lookup (and no resolver thread)
        if (literal.version == 4) != (family == "ipv4"):
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"{host} is not an {family} address")
        return (host, port) if family == "ipv4" else (host, port, 0, 0)
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=FAMILIES[family], type=socket.SOCK_STREAM
    )
    if not infos:
        raise socket.gaierror(socket.EAI_NODATA, "no address in this family")
    return infos[0][4]
