"""Loopback TCP peers: a listener that holds, resets or cuts connections; a closed port.

Behaviours:
- ``hold``: accept and keep the connection open (a reachable service);
- ``reset``: accept, then close with SO_LINGER 0, so the client gets an RST;
- ``reset_after_read``: read what the client sends first (a ClientHello), then RST, as an
  SNI filter does;
- ``close_after_read``: read the first bytes, then close cleanly (EOF mid-handshake).

Also ``closed_port()``, ``SilentPort`` (SYNs dropped: timeouts) and ``DelayProxy`` (a slow
link in front of a real server).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

from cutwatch.api.lab._server import LoopbackPeer, family_of, tcp_listener

TcpBehaviour = Literal["hold", "reset", "reset_after_read", "close_after_read"]


class TcpServer(LoopbackPeer):
    def __init__(self, behaviour: TcpBehaviour = "hold", *, host: str = "127.0.0.1") -> None:
        super().__init__(tcp_listener(host))
        self.behaviour = behaviour
        self.accepted = 0
        self._held: list[socket.socket] = []

    def handle_readable(self) -> None:
        conn, _ = self._sock.accept()
        self.accepted += 1
        if self.behaviour == "hold":
            self._held.append(conn)
            return
        if self.behaviour == "reset":
            _reset(conn)
            return
        threading.Thread(target=self._after_read, args=(conn,), daemon=True).start()

    def _after_read(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            conn.recv(4096)
        if self.behaviour == "reset_after_read":
            _reset(conn)
        else:
            conn.close()

    def stop(self) -> None:
        super().stop()
        for conn in self._held:
            conn.close()


def _reset(conn: socket.socket) -> None:
    # Linger on, timeout 0: close() discards the buffers and sends RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on: bound once by the kernel's choice, then released."""
    with socket.socket(family_of(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SilentPort:
    """A port whose SYNs go unanswered (a firewall that drops): connects time out.

    A listener that never accepts, its one-slot backlog filled by our own connections: the
    kernel then drops further SYNs silently, on loopback, without root or packet filters.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.socket(family_of(host), socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self._fillers: list[socket.socket] = []
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.port = self.address[1]

    def __enter__(self) -> SilentPort:
        for _ in range(3):
            filler = socket.socket(self._listener.family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(self.address)
            self._fillers.append(filler)
        return self

    def __exit__(self, *exc: object) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()


class DelayProxy(LoopbackPeer):
    """Forwards connections to ``upstream``, holding each answer chunk ``delay`` seconds: a
    slow link in front of a real server (an ack that is still on its way when power fails)."""

    def __init__(self, upstream: tuple[str, int], delay: float, *,
                 host: str = "127.0.0.1") -> None:
        super().__init__(tcp_listener(host))
        self.upstream = upstream
        self.delay = delay

    def handle_readable(self) -> None:
        client, _ = self._sock.accept()
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, self.delay),
                         daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while data := source.recv(65536):
                if delay:
                    time.sleep(delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            source.close()
