"""A local probe measuring loopback lab peers, for ``cutwatch serve --demo`` and newcomers.

``DemoProbe`` starts the lab peers (``cutwatch.lab``), registers a probe with the collector,
writes its config and runs the real agent in a thread, on a fast schedule so data shows up
within seconds. Every target is on 127.0.0.1: nothing leaves the machine. The targets show
one of each everyday outcome: a working DNS name, NXDOMAIN, a silent resolver, a DNS
injector, an open port, a closed port, a reset, a web page and a block page.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from cutwatch.lab.dns import DnsServer
from cutwatch.lab.http import HttpServer
from cutwatch.lab.tcp import TcpServer, closed_port
from probes.agent import Agent
from probes.checks.base import Context
from probes.clock import clock_synced
from probes.config import load_config, load_credentials
from probes.main import spool_for
from probes.register import register_probe

ZONE = {"example.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}


class DemoProbe:
    def __init__(self, collector_url: str, token: str, workdir: Path, *, country: str = "MM",
                 subdivision: str | None = "MM-07", city: str | None = "Bago") -> None:
        self.collector_url = collector_url.rstrip("/")
        self.token = token
        self.workdir = workdir
        self.where = (country, subdivision, city)
        self._stack = contextlib.ExitStack()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.config_path = workdir / "probe.toml"

    def start(self) -> DemoProbe:
        enter = self._stack.enter_context
        dns = enter(DnsServer(ZONE))
        silent = enter(DnsServer(ZONE, mode="silent"))
        injector = enter(DnsServer(ZONE, mode="twice"))
        web = enter(HttpServer())
        held, reset = enter(TcpServer("hold")), enter(TcpServer("reset"))
        state = self.workdir / "state"
        if not (state / "credentials.json").exists():
            country, subdivision, city = self.where
            register_probe(self.collector_url, self.token, state_dir=state, country=country,
                           subdivision=subdivision, city=city, access="fixed",
                           name="demo-loopback")
        self.config_path.write_text(_config(state, self.collector_url, dns.port, silent.port,
                                            injector.port, web.url(""), held.port, reset.port))
        self._thread = threading.Thread(target=self._run, daemon=True, name="demo-probe")
        self._thread.start()
        return self

    def _run(self) -> None:
        config = load_config(self.config_path)
        spool = spool_for(config)
        agent = Agent(config, Context(), spool)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await agent.run(self._stop, load_credentials(config), clock_synced)

        try:
            asyncio.run(main())
        finally:
            spool.close()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._stack.close()


def _config(state: Path, collector: str, dns: int, silent: int, injector: int, web: str,
            held: int, reset: int) -> str:
    def dns_target(name: str, port: int, query: str = "example.test", **extra: str) -> str:
        more = "".join(f"{k} = {v}\n" for k, v in extra.items())
        return (f'[[targets]]\nkind = "dns"\nname = "{name}"\ntag = "domestic"\n'
                f'query = "{query}"\nresolver = "127.0.0.1:{port}"\ntimeout = 2\n{more}\n')

    def tcp_target(name: str, port: int, tag: str = "domestic") -> str:
        return (f'[[targets]]\nkind = "tcp"\nname = "{name}"\ntag = "{tag}"\n'
                f'host = "127.0.0.1"\nport = {port}\n\n')

    def http_target(name: str, path: str, tag: str, patterns: str = "") -> str:
        return (f'[[targets]]\nkind = "http"\nname = "{name}"\ntag = "{tag}"\n'
                f'group = "pulse"\nurl = "{web.rstrip("/")}{path}"\n{patterns}\n')

    return (
        f'[probe]\nstate_dir = "{state}"\ncollectors = ["{collector}"]\ncheckin = true\n\n'
        "[schedule]\npulse = 15\nservice = 60\nupload = 5\ncheckin = 300\n\n"
        + dns_target("lab-dns-ok", dns)
        + dns_target("lab-dns-nxdomain", dns, "no-such-name.test", families='["ipv4"]')
        + dns_target("lab-dns-silent", silent, families='["ipv4"]')
        + dns_target("lab-dns-injected", injector, families='["ipv4"]')
        + tcp_target("lab-tcp-open", held)
        + tcp_target("lab-tcp-closed", closed_port(), "international")
        + tcp_target("lab-tcp-reset", reset, "international")
        + http_target("lab-http-ok", "/", "domestic")
        + http_target("lab-http-blocked", "/blocked", "international",
                      'block_patterns = ["has been restricted"]\n')
    )
