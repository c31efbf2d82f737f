"""A target host of the drill: real DNS, HTTP and HTTPS servers on one namespace's address.

Run as ``python -m cutwatch.api.drill.targets --host ADDR --zone NAME=ADDR --out ports.json`` inside
the target's namespace; it writes the ports (and the HTTPS CA) once listening, then serves
until SIGTERM. The drill's DNS forger (``--dns-mode twice``) is the same program.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import get_args

from cutwatch.api.lab.dns import DnsMode, DnsServer
from cutwatch.api.lab.http import HttpServer, LabCA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutwatch.api.drill.targets")
    parser.add_argument("--host", required=True)
    parser.add_argument("--zone", action="append", default=[], metavar="NAME=ADDR")
    parser.add_argument("--dns-mode", default="normal", choices=get_args(DnsMode))
    parser.add_argument("--dns-only", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    zone: dict[str, list[str]] = {}
    for item in args.zone:
        name, _, addr = item.partition("=")
        zone.setdefault(name, []).append(addr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        dns = stack.enter_context(DnsServer(zone, args.dns_mode, host=args.host))
        ports: dict[str, object] = {"dns": dns.port}
        if not args.dns_only:
            web = stack.enter_context(HttpServer(host=args.host))
            ca = LabCA()
            secure = stack.enter_context(HttpServer(host=args.host,
                                                    tls=ca.server_context(args.host)))
            ca_file = ca.write_pem(args.out.with_suffix(".ca.pem"))
            ports |= {"http": web.port, "https": secure.port, "ca_file": str(ca_file)}
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(ports))
        tmp.replace(args.out)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
