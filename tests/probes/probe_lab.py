"""Lab peers for probe tests: real servers on loopback, started once per module (a fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.http import HttpServer, LabCA
from cutwatch.api.lab.tcp import TcpServer

ZONE = {"ok.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "lan.test": ["127.0.0.1"], "v4only.test": ["93.184.216.34"]}


@dataclass
class Lab:
    dns: DnsServer
    web: HttpServer
    tls: HttpServer
    wrong_host: HttpServer
    held: TcpServer
    reset: TcpServer
    ca_file: Path

    def resolver(self, server: DnsServer) -> str:
        return f"{server.host}:{server.port}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ca = LabCA()
    ca_file = ca.write_pem(tmp_path_factory.mktemp("ca") / "ca.pem")
    with DnsServer(ZONE, ttl=120) as dns, HttpServer() as web, \
            HttpServer(tls=ca.server_context()) as tls, \
            HttpServer(tls=ca.server_context("wrong.example")) as wrong_host, \
            TcpServer("hold") as held, TcpServer("reset") as reset:
        yield Lab(dns, web, tls, wrong_host, held, reset, ca_file)
