"""A loopback HTTP(S) server with the pages a censor's network produces, and its lab CA.

Routes:
- ``/``: a plain ok page;
- ``/blocked``: a block page (``BLOCK_PAGE_TITLE`` in its title, as national filters serve);
- ``/loop``: redirects to itself forever; ``/redirect/N``: N redirects, then the ok page;
- ``/object/SIZE``: SIZE known bytes (``object_bytes(SIZE)``), sent at ``rate`` bytes/s when
  the server was given one (throttling);
- ``/status/CODE``: an empty answer with that status.

``LabCA`` wraps trustme: ``ca.server_context("127.0.0.1")`` for a good certificate,
``ca.server_context("wrong.example")`` for one issued to the wrong host, and
``ca.write_pem(path)`` so a client can trust it (without it: unknown authority).
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cutwatch.api.lab._server import family_of

OK_PAGE = b"<html><head><title>Cutwatch lab</title></head><body>ok</body></html>\n"
BLOCK_PAGE_TITLE = "Access to this site has been restricted"
BLOCK_PAGE = (
    f"<html><head><title>{BLOCK_PAGE_TITLE}</title></head><body><p>In accordance with the "
    "directive of the regulator, this website is not available.</p></body></html>\n"
).encode()
PATTERN = b"cutwatch-lab-object:"


def object_bytes(size: int) -> bytes:
    """The known content of ``/object/SIZE``: a repeated marker cut to ``size`` bytes."""
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


class LabCA:
    """A throwaway certificate authority (trustme) for the HTTPS lab server."""

    def __init__(self) -> None:
        import trustme  # test-only dependency, loaded when HTTPS is asked for

        self._ca = trustme.CA()

    def server_context(self, *hosts: str, expired: bool = False) -> ssl.SSLContext:
        from datetime import UTC, datetime, timedelta

        kwargs: dict[str, Any] = {}
        if expired:
            past = datetime.now(UTC) - timedelta(days=30)
            kwargs = {"not_before": past - timedelta(days=30), "not_after": past}
        cert = self._ca.issue_cert(*(hosts or ("127.0.0.1", "::1", "localhost")), **kwargs)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def write_pem(self, path: Path) -> Path:
        self._ca.cert_pem.write_to_path(str(path))
        return path


class _Handler(BaseHTTPRequestHandler):
    server: HttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, OK_PAGE)
        elif path == "/blocked":
            self._send(200, BLOCK_PAGE)
        elif path == "/loop":
            self._send(302, b"", location="/loop")
        elif match := re.fullmatch(r"/redirect/(\d+)", path):
            left = int(match[1])
            self._send(302, b"", location=f"/redirect/{left - 1}" if left > 1 else "/")
        elif match := re.fullmatch(r"/object/(\d+)", path):
            self._send(200, object_bytes(int(match[1])), kind="application/octet-stream")
        elif match := re.fullmatch(r"/status/(\d{3})", path):
            self._send(int(match[1]), b"")
        else:
            self._send(404, b"not found\n")

    def _send(self, status: int, body: bytes, *, location: str | None = None,
              kind: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if location:
            self.send_header("Location", location)
        self.end_headers()
        rate = self.server.rate
        if not rate:
            self.wfile.write(body)
            return
        chunk = max(1024, rate // 20)
        for start in range(0, len(body), chunk):
            self.wfile.write(body[start : start + chunk])
            self.wfile.flush()
            time.sleep(chunk / rate)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpServer(ThreadingHTTPServer):
    """``with HttpServer() as web: web.url("/")``; pass ``tls=`` for HTTPS."""

    daemon_threads = True

    def __init__(self, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
                 rate: int | None = None) -> None:
        self.address_family = family_of(host)
        super().__init__((host, 0), _Handler)
        self.tls = tls
        self.rate = rate
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="HttpServer")

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/") -> str:
        host = str(self.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs in the request's own thread, so a client that gives up on a
        # certificate cannot stall the server.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        assert isinstance(request, socket.socket)
        request.settimeout(5)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: what the lab is for
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer are normal in a lab that tests failures

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
