"""The drill's network: countries of ISPs of probe hosts, built as namespaces and torn down.

``plan()`` is pure: it turns the countries into namespaces, links and routes. ``Network``
builds that plan with ``ip`` and always removes it again (``close``); ``sweep()`` removes
what an earlier, killed run left behind (everything named with ``PREFIX``).

Shape (every box a namespace, every line a veth pair)::

    coll ---+                    +--- gw(country) --+-- isp1 [br0] -- probe hosts
    intl ---+-- ix (abroad) -----+                  +-- isp2 [br0] -- probe hosts
            |                                       +-- dom (domestic target host)
            +--- gw(other country) ...

The root namespace gets no interface and no route: nothing built here can reach the
machine's own network, which ``verify()`` checks before anything runs.
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
from dataclasses import dataclass
from types import FrameType
from typing import Any

from cutwatch.api.drill.netns import in_ns, ip, namespaces

PREFIX = "cwdrill-"
COLLECTOR_ADDR = "10.200.0.2"
INTL_ADDR = "10.200.1.2"


@dataclass(frozen=True)
class Isp:
    asn: int
    probes: int = 3


@dataclass(frozen=True)
class Country:
    code: str
    subdivision: str
    city: str
    isps: tuple[Isp, ...]


DEFAULT_COUNTRIES = (
    Country("MM", "MM-07", "Bago", (Isp(64601), Isp(64602))),
    Country("KH", "KH-12", "Phnom Penh", (Isp(64701), Isp(64702))),
)


@dataclass(frozen=True)
class ProbeHost:
    ns: str
    address: str
    gateway: str
    country: Country
    asn: int
    uplink: tuple[str, str]
    """(namespace, interface) whose link down cuts this probe's ISP off."""


@dataclass(frozen=True)
class Link:
    a: str
    a_if: str
    a_addr: str | None
    b: str
    b_if: str
    b_addr: str | None


@dataclass(frozen=True)
class Place:
    """The namespaces and cut points of one country, by name."""

    country: Country
    index: int
    gateway: str
    dom: str
    dom_addr: str
    uplink: tuple[str, str]
    isps: tuple[str, ...]
    isp_uplinks: tuple[tuple[str, str], ...]
    isp_lans: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    namespaces: tuple[str, ...]
    links: tuple[Link, ...]
    bridges: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    """(namespace, bridge, address, member interfaces)"""
    routes: tuple[tuple[str, str, str], ...]
    """(namespace, destination, via)"""
    routers: tuple[str, ...]
    probes: tuple[ProbeHost, ...]
    places: tuple[Place, ...]
    coll: str
    intl: str
    ix: str


def plan(countries: tuple[Country, ...] = DEFAULT_COUNTRIES) -> Plan:
    """Names and addresses of every namespace, link and route (10.x, inside the drill only)."""
    ix, coll, intl = PREFIX + "ix", PREFIX + "coll", PREFIX + "intl"
    spaces = [ix, coll, intl]
    links = [Link(ix, "coll", "10.200.0.1/30", coll, "eth0", COLLECTOR_ADDR + "/30"),
             Link(ix, "intl", "10.200.1.1/30", intl, "eth0", INTL_ADDR + "/30")]
    routes = [(coll, "default", "10.200.0.1"), (intl, "default", "10.200.1.1")]
    bridges = []
    routers = [ix]
    probes: list[ProbeHost] = []
    places = []
    for c, country in enumerate(countries, start=1):
        tag = chr(ord("a") + c - 1)
        gw, dom = f"{PREFIX}{tag}gw", f"{PREFIX}{tag}dom"
        spaces += [gw, dom]
        routers.append(gw)
        links.append(Link(ix, f"to{tag}", f"10.{c}.255.1/30", gw, "intl", f"10.{c}.255.2/30"))
        links.append(Link(gw, "dom", f"10.{c}.254.1/30", dom, "eth0", f"10.{c}.254.2/30"))
        routes += [(ix, f"10.{c}.0.0/16", f"10.{c}.255.2"), (gw, "default", f"10.{c}.255.1"),
                   (dom, "default", f"10.{c}.254.1")]
        isps, uplinks, lans = [], [], []
        for i, isp in enumerate(country.isps, start=1):
            router = f"{PREFIX}{tag}{i}"
            spaces.append(router)
            routers.append(router)
            isps.append(router)
            uplink = (gw, f"isp{i}")
            uplinks.append(uplink)
            lans.append(f"10.{c}.{i}.0/24")
            links.append(Link(gw, f"isp{i}", f"10.{c}.{100 + i}.1/30",
                              router, "uplink", f"10.{c}.{100 + i}.2/30"))
            routes += [(gw, f"10.{c}.{i}.0/24", f"10.{c}.{100 + i}.2"),
                       (router, "default", f"10.{c}.{100 + i}.1")]
            members = []
            for k in range(1, isp.probes + 1):
                host = f"{PREFIX}{tag}{i}p{k}"
                spaces.append(host)
                address = f"10.{c}.{i}.{10 + k}"
                links.append(Link(router, f"p{k}", None, host, "eth0", address + "/24"))
                members.append(f"p{k}")
                routes.append((host, "default", f"10.{c}.{i}.1"))
                probes.append(ProbeHost(host, address, f"10.{c}.{i}.1", country, isp.asn,
                                        uplink))
            bridges.append((router, "br0", f"10.{c}.{i}.1/24", tuple(members)))
        places.append(Place(country, c, gw, dom, f"10.{c}.254.2", (ix, f"to{tag}"),
                            tuple(isps), tuple(uplinks), tuple(lans)))
    return Plan(tuple(spaces), tuple(links), tuple(bridges), tuple(routes), tuple(routers),
                tuple(probes), tuple(places), coll, intl, ix)


def root_routes() -> str:
    """The root namespace's routing tables, to prove the drill left them alone."""
    return ip("route", "show", "table", "all") + ip("-6", "route", "show", "table", "all")


def sweep() -> list[str]:
    """Remove every namespace an earlier drill left (its processes first); their names."""
    left = [ns for ns in namespaces() if ns.startswith(PREFIX)]
    for ns in left:
        _kill_inside(ns)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    return left


def _kill_inside(ns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                          check=False).stdout.split()
    for pid in pids:
        subprocess.run(["kill", "-KILL", pid], capture_output=True, check=False)


class Network:
    """The built plan; ``with Network(plan) as net:`` tears down on any exit, signals too."""

    def __init__(self, layout: Plan) -> None:
        self.plan = layout
        self.root_before = ""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Network:
        leftovers = sweep()
        if leftovers:
            print(f"drill: removed {len(leftovers)} namespaces left by an earlier run")
        self.root_before = root_routes()
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, _interrupted)
        try:
            self.build()
            self.verify()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build(self) -> None:
        layout = self.plan
        for ns in layout.namespaces:
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for link in layout.links:
            ip("link", "add", link.a_if, "netns", link.a, "type", "veth",
               "peer", "name", link.b_if, "netns", link.b)
            for ns, name, addr in ((link.a, link.a_if, link.a_addr),
                                   (link.b, link.b_if, link.b_addr)):
                if addr:
                    ip("-n", ns, "addr", "add", addr, "dev", name)
                ip("-n", ns, "link", "set", "dev", name, "up")
        for ns, bridge, addr, members in layout.bridges:
            ip("-n", ns, "link", "add", bridge, "type", "bridge")
            for member in members:
                ip("-n", ns, "link", "set", "dev", member, "master", bridge)
            ip("-n", ns, "addr", "add", addr, "dev", bridge)
            ip("-n", ns, "link", "set", "dev", bridge, "up")
        for ns in layout.routers:
            in_ns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for ns, dest, via in layout.routes:
            ip("-n", ns, "route", "add", dest, "via", via)

    def verify(self) -> None:
        """Refuse to go on if any drill interface leads out of the drill's namespaces."""
        ours = set(self.plan.namespaces)
        for ns in ours:
            for line in ip("-n", ns, "-o", "-d", "link", "show").splitlines():
                name = line.split(":")[1].strip().split("@")[0]
                words = line.split()
                if name == "lo" or ("bridge" in words and "veth" not in words):
                    continue
                if "veth" not in words:
                    raise RuntimeError(f"drill: unexpected interface {name} in {ns}; refusing")
                peer = line.split("link-netns ", 1)[1].split()[0] if "link-netns " in line \
                    else None
                if peer not in ours:
                    raise RuntimeError(f"drill: {ns}/{name} leads outside the drill's "
                                       "namespaces; refusing to start")
        for line in ip("-o", "-d", "link", "show").splitlines():
            if "link-netns " + PREFIX in line:
                raise RuntimeError("drill: an interface of the root namespace leads into the "
                                   "drill; refusing to start")
        if root_routes() != self.root_before:
            raise RuntimeError("drill: the root namespace's routes changed; refusing to start")

    def root_unchanged(self) -> bool:
        return root_routes() == self.root_before

    def close(self) -> None:
        try:
            for ns in reversed(self.plan.namespaces):
                if ns in set(namespaces()):
                    _kill_inside(ns)
                    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            self._previous.clear()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # As an exception, SIGTERM unwinds through every ``finally`` and ``with`` like Ctrl-C.
    raise KeyboardInterrupt(f"signal {signum}")


def link_state(layout: Plan, ns: str, name: str, up: bool) -> None:
    """Unplug or plug back one link. Setting a link down deletes the routes through it, so
    plugging it back restores the plan's routes at both of its ends."""
    ip("-n", ns, "link", "set", "dev", name, "up" if up else "down")
    if not up:
        return
    for link in layout.links:
        if (ns, name) not in ((link.a, link.a_if), (link.b, link.b_if)):
            continue
        nets = [ipaddress.ip_interface(a).network for a in (link.a_addr, link.b_addr) if a]
        for where, dest, via in layout.routes:
            if where in (link.a, link.b) and any(ipaddress.ip_address(via) in n for n in nets):
                ip("-n", where, "route", "replace", dest, "via", via)
