"""What a probe measures: the targets of the catalogue, one frozen dataclass per check kind.

A target comes from the volunteer's config file or from the collector's catalogue (check-in);
both are validated here, at the trust boundary, by hand (``cutwatch.probes.validate``: no
pydantic on a probe). The collector's pydantic models of the same documents are
``cutwatch.catalogue``; a test holds both to accepting and refusing the same catalogues with the
same first error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from cutwatch.probes import validate as v
from cutwatch.vocab import CheckKind, Family, Scope, compiled_patterns

Group = Literal["pulse", "service"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"


@dataclass(frozen=True, kw_only=True)
class BaseTarget:
    kind: CheckKind
    name: str  # catalogue name; the wire ``target`` field
    tag: Scope  # lan | domestic | international, relative to the probe
    group: Group = "pulse"  # pulse (light, often) | service (heavy)
    families: tuple[Family, ...] = ("ipv4",)  # each family is measured on its own
    timeout: float = 5.0


@dataclass(frozen=True, kw_only=True)
class DnsTarget(BaseTarget):
    kind: Literal["dns"] = "dns"
    query: str  # name to resolve
    resolver: str = "system"  # 'system' (/etc/resolv.conf) or an address[:port]
    families: tuple[Family, ...] = ("ipv4", "ipv6")
    late_window: float = 0.3  # how long to keep listening after the first reply
    allow_private: bool = False  # private answers are expected (LAN names, labs): no bogon


@dataclass(frozen=True, kw_only=True)
class TcpTarget(BaseTarget):
    kind: Literal["tcp"] = "tcp"
    host: str
    port: int
    payload: str | None = None  # sent after connect
    linger: float = 0.2  # seconds to wait after connect for a reset


@dataclass(frozen=True, kw_only=True)
class HttpTarget(BaseTarget):
    kind: Literal["http"] = "http"
    group: Group = "service"
    url: str
    max_body: int = 1_048_576
    expect_status: tuple[int, ...] = ()  # empty: any status below 400
    block_patterns: tuple[str, ...] = ()  # regexes that mark the body as a block page
    expect_size: int | None = None  # known object size: throughput is measured on it
    ca_file: str | None = None  # extra CA bundle (labs, private CAs)


@dataclass(frozen=True, kw_only=True)
class GatewayTarget(BaseTarget):
    kind: Literal["gateway"] = "gateway"
    tag: Scope = "lan"
    address: str | None = None  # default: the default route's next hop
    ports: tuple[int, ...] = (53, 80, 443)  # any answer (even a refusal) means it is up
    timeout: float = 2.0


@dataclass(frozen=True, kw_only=True)
class IcmpTarget(BaseTarget):
    kind: Literal["icmp"] = "icmp"
    host: str
    count: int = 3


@dataclass(frozen=True, kw_only=True)
class TracerouteTarget(BaseTarget):
    kind: Literal["traceroute"] = "traceroute"
    group: Group = "service"
    host: str
    max_hops: int = 20


Target = DnsTarget | TcpTarget | HttpTarget | GatewayTarget | IcmpTarget | TracerouteTarget


@dataclass(frozen=True, kw_only=True)
class BlockPage:
    """A block-page fingerprint shared by every HTTP target (from the catalogue)."""

    name: str
    pattern: str


@dataclass(frozen=True, kw_only=True)
class Catalogue:
    """What the collector hands out at check-in (and what the probe keeps on disk)."""

    targets: tuple[Target, ...] = ()
    block_pages: tuple[BlockPage, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """How often each group runs, in seconds; the collector may send new values."""

    # Every upload round sends a batch, empty or not: it is the probe's heartbeat, and the
    # detector sees a probe go silent ~1.5 uploads after its last one. 15 s heartbeats and
    # 30 s pulses open events within about a minute of the cut, for ~0.2 MB/h of upload
    # (docs/benchmarks.md, "Detection speed at the default schedule").
    pulse: float = 30
    service: float = 900
    jitter: float = 0.1  # fraction of the interval
    upload: float = 15
    checkin: float = 3600


@dataclass(frozen=True, kw_only=True)
class CheckinReply:
    """``GET /v1/checkin``: the collector's time, the probe's catalogue and schedule."""

    server_time: datetime
    catalogue: Catalogue = field(default_factory=Catalogue)
    schedule: Schedule | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["server_time"] = self.server_time.isoformat()
        return json.dumps(data, indent=1)


# The rules of cutwatch.catalogue's fields, field by field (same bounds, same patterns).
_FAMILIES = v.tuple_of(v.literal("ipv4", "ipv6"), min_length=1)
_BASE: dict[str, v.Checker] = {
    "name": v.string(pattern=NAME),
    "tag": v.literal("lan", "domestic", "international"),
    "group": v.literal("pulse", "service"),
    "families": _FAMILIES,
    "timeout": v.number(gt=0, le=60),
}
_HOST = v.string(min_length=1, max_length=253)


def _target(cls: type[BaseTarget], kind: str, **fields: v.Checker) -> v.Checker:
    return v.record(cls, {"kind": v.literal(kind), **_BASE, **fields})


TARGET: v.Checker = v.tagged("kind", {
    "dns": _target(DnsTarget, "dns", query=v.string(min_length=1, max_length=253),
                   resolver=v.string(), late_window=v.number(ge=0, le=5),
                   allow_private=v.boolean),
    "tcp": _target(TcpTarget, "tcp", host=_HOST, port=v.integer(ge=1, le=65535),
                   payload=v.optional(v.string(max_length=1024)),
                   linger=v.number(ge=0, le=5)),
    "http": _target(HttpTarget, "http", url=v.string(max_length=2048, pattern=r"^https?://"),
                    max_body=v.integer(ge=0, le=64 * 1_048_576),
                    expect_status=v.tuple_of(v.integer()),
                    block_patterns=v.with_rule(v.tuple_of(v.string()), compiled_patterns),
                    expect_size=v.optional(v.integer(ge=1)), ca_file=v.optional(v.string())),
    "gateway": _target(GatewayTarget, "gateway", address=v.optional(v.string()),
                       ports=v.tuple_of(v.integer(), min_length=1)),
    "icmp": _target(IcmpTarget, "icmp", host=_HOST, count=v.integer(ge=1, le=10)),
    "traceroute": _target(TracerouteTarget, "traceroute", host=_HOST,
                          max_hops=v.integer(ge=1, le=64)),
})
BLOCK_PAGE = v.record(BlockPage, {"name": v.string(min_length=1, max_length=64),
                                  "pattern": v.string(min_length=1)})
CATALOGUE = v.record(Catalogue, {"targets": v.tuple_of(TARGET),
                                 "block_pages": v.tuple_of(BLOCK_PAGE)})
SCHEDULE = v.record(Schedule, {
    "pulse": v.number(ge=5, le=86_400), "service": v.number(ge=30, le=86_400),
    "jitter": v.number(ge=0, le=0.5), "upload": v.number(ge=5, le=86_400),
    "checkin": v.number(ge=60, le=7 * 86_400)})
CHECKIN_REPLY = v.record(CheckinReply, {
    "server_time": v.aware_datetime, "catalogue": CATALOGUE,
    "schedule": v.optional(SCHEDULE)}, extra="ignore")


def parse_target(data: Any) -> Target:
    target: Target = v.validate(TARGET, data)
    return target


def parse_catalogue(data: Any) -> Catalogue:
    catalogue: Catalogue = v.validate(CATALOGUE, data)
    return catalogue


def parse_checkin_reply(body: bytes | str) -> CheckinReply:
    """A check-in reply (the collector's JSON or the saved copy); ``v.Invalid`` if not one."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise v.Invalid([{"loc": (), "msg": f"Invalid JSON: {exc}"}]) from None
    if not isinstance(data, dict):
        raise v.Invalid([{"loc": (), "msg": "Input should be an object"}])
    reply: CheckinReply = v.validate(CHECKIN_REPLY, data, json_mode=True)
    return reply
