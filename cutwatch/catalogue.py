"""The catalogue's models on the collector: targets, block pages, schedule, check-in reply.

The collector validates its catalogue file and builds its check-in replies with these; the probe
reads the same JSON with its own plain parser (``cutwatch.probes.targets``, no pydantic, for its
memory budget), and a test holds both to accepting and refusing the same documents.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cutwatch.vocab import CheckKind, Family, Scope, compiled_patterns

Group = Literal["pulse", "service"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"


class BaseTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CheckKind
    name: str = Field(pattern=NAME, description="Catalogue name; the wire `target` field.")
    tag: Scope = Field(description="lan | domestic | international, relative to the probe.")
    group: Group = Field(default="pulse", description="pulse (light, often) | service (heavy)")
    families: tuple[Family, ...] = Field(
        default=("ipv4",), min_length=1, description="Each family is measured on its own."
    )
    timeout: float = Field(default=5.0, gt=0, le=60)


class DnsTarget(BaseTarget):
    kind: Literal["dns"]
    query: str = Field(min_length=1, max_length=253, description="Name to resolve.")
    resolver: str = Field(
        default="system", description="'system' (/etc/resolv.conf) or an address[:port]."
    )
    families: tuple[Family, ...] = Field(default=("ipv4", "ipv6"), min_length=1)
    late_window: float = Field(
        default=0.3, ge=0, le=5, description="How long to keep listening after the first reply."
    )
    allow_private: bool = Field(
        default=False, description="Private answers are expected (LAN names, labs): no bogon."
    )


class TcpTarget(BaseTarget):
    kind: Literal["tcp"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    payload: str | None = Field(default=None, max_length=1024, description="Sent after connect.")
    linger: float = Field(
        default=0.2, ge=0, le=5, description="Seconds to wait after connect for a reset."
    )


class HttpTarget(BaseTarget):
    kind: Literal["http"]
    group: Group = "service"
    url: str = Field(pattern=r"^https?://", max_length=2048)
    max_body: int = Field(default=1_048_576, ge=0, le=64 * 1_048_576)
    expect_status: tuple[int, ...] = Field(
        default=(), description="Acceptable final statuses; empty means any status below 400."
    )
    block_patterns: tuple[str, ...] = Field(
        default=(), description="Regexes that mark the body as a block page."
    )
    expect_size: int | None = Field(
        default=None, ge=1, description="Known object size: throughput is measured on it."
    )
    ca_file: str | None = Field(default=None, description="Extra CA bundle (labs, private CAs).")

    @field_validator("block_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return compiled_patterns(patterns)


class GatewayTarget(BaseTarget):
    kind: Literal["gateway"]
    tag: Scope = "lan"
    address: str | None = Field(
        default=None, description="Gateway address; default: the default route's next hop."
    )
    ports: tuple[int, ...] = Field(
        default=(53, 80, 443), min_length=1, description="An answer (even a refusal) on any "
        "of these ports means the gateway is up.",
    )
    timeout: float = Field(default=2.0, gt=0, le=60)


class IcmpTarget(BaseTarget):
    kind: Literal["icmp"]
    host: str = Field(min_length=1, max_length=253)
    count: int = Field(default=3, ge=1, le=10)


class TracerouteTarget(BaseTarget):
    kind: Literal["traceroute"]
    group: Group = "service"
    host: str = Field(min_length=1, max_length=253)
    max_hops: int = Field(default=20, ge=1, le=64)


Target = Annotated[
    DnsTarget | TcpTarget | HttpTarget | GatewayTarget | IcmpTarget | TracerouteTarget,
    Field(discriminator="kind"),
]


class BlockPage(BaseModel):
    """A block-page fingerprint shared by every HTTP target (from the catalogue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    pattern: str = Field(min_length=1)


class Catalogue(BaseModel):
    """What the collector hands out at check-in (and what the probe keeps on disk)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: tuple[Target, ...] = ()
    block_pages: tuple[BlockPage, ...] = ()


class Schedule(BaseModel):
    """How often each group runs, in seconds; the collector may send new values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pulse: float = Field(default=30, ge=5, le=86_400)
    service: float = Field(default=900, ge=30, le=86_400)
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="Fraction of the interval.")
    upload: float = Field(default=15, ge=5, le=86_400)
    checkin: float = Field(default=3600, ge=60, le=7 * 86_400)


class CheckinReply(BaseModel):
    """``GET /v1/checkin``: the collector's time, the probe's catalogue and schedule."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    server_time: AwareDatetime
    catalogue: Catalogue = Catalogue()
    schedule: Schedule | None = None
