"""Service settings: one object, built at the entry point (``cutwatch serve``) and passed down.

Read from the environment (prefix ``CUTWATCH_``; ``DATABASE_URL`` is also honoured) and
overridden by command-line flags. Nothing here runs at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the collector service needs to know about its deployment."""

    model_config = SettingsConfigDict(
        env_prefix="CUTWATCH_", extra="ignore", populate_by_name=True, frozen=True
    )

    # Storage. Without a URL, `cutwatch serve` starts an embedded PostgreSQL in data_dir.
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CUTWATCH_DATABASE_URL", "DATABASE_URL"),
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded PostgreSQL lives here.")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    migrate_on_start: bool = True

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Proxies whose X-Forwarded-For is trusted (comma-separated), for replicas behind a load
    # balancer; the address is only used for the ASN/country lookup, then dropped.
    forwarded_allow_ips: str | None = None

    # Auth
    admin_token: SecretStr | None = Field(default=None, description="Operator's bearer token.")

    # Ingest limits
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Body limit of every other route (JSON the API takes is small).
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    max_decompressed_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    # Offline GeoIP databases (MMDB). One file may carry both fields (ipinfo lite).
    geoip_asn_db: Path | None = None
    geoip_country_db: Path | None = None

    # A probe is "silent" after this long without an accepted batch.
    silent_after_seconds: int = Field(default=600, ge=1)

    # The operator's target catalogue (TOML, see deploy/catalogue.example.toml) handed to
    # probes at check-in; unset = an empty catalogue.
    catalogue: Path | None = None

    # Webhooks (api/webhooks, docs/webhooks.md). Links in payloads and feeds point here.
    public_base_url: str = "http://127.0.0.1:8000"
    # Operator's explicit permission for http:// and private/loopback webhook targets (labs).
    webhook_allow_private: bool = False
    # Seconds before each attempt; unset = the published schedule (api/webhooks/config.py).
    webhook_retry_schedule: tuple[float, ...] | None = None
    webhook_disable_after_failures: int | None = Field(default=None, ge=1)

    # Hardening (docs/api.md, docs/privacy.md, docs/operations.md).
    # Every timestamp a probe sends lies within this many days of the collector's clock.
    time_window_days: int = Field(default=366, ge=1, le=3650)
    # A result may be measured at most this long after the collector's clock says now.
    clock_tolerance_seconds: int = Field(default=600, ge=0, le=86_400)
    # Requests per minute per credential (probe, subscriber, admin) or, unauthenticated, per
    # client address (held in memory only); 0 turns the limit off.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    # How long a request waits for a pooled connection before checking whether the database
    # is down (503 at once) or the pool only busy (api.db.FailFastPool).
    db_wait_seconds: float = Field(default=0.5, gt=0, le=60)
    # Results of a probe count only once the operator approved it (`cutwatch admin probe
    # approve`); off, every registered probe counts from its first batch.
    require_probe_approval: bool = True
    # Public reads never show a group (country, subdivision, city, network) of fewer probes.
    min_publishable_probes: int = Field(default=3, ge=1)
    # GET /v1/probes (the per-probe public list) answers 404 when off.
    public_probe_list: bool = True
    # Where this replica runs the detector's leader election: "child" (a child process of the
    # service, so its CPU never holds the API's interpreter lock), "thread" (a thread of this
    # process: one process fewer, but the API's latency suffers while it works) or "off" (a
    # separate `cutwatch detect` process leads, as in deploy/compose).
    detector: Literal["child", "thread", "off"] = "child"
    # The detector's tunables (detectors.params.Params) and its leader's clock (poll, settle,
    # rebuild: api.leader.OnlineConfig), as JSON objects of field overrides, e.g.
    # CUTWATCH_DETECTOR_PARAMS='{"hold_s": 30}'. Empty: the published defaults. For labs that
    # run probes at a short cadence (the drill scales every duration with it); production
    # keeps the defaults (docs/events.md).
    detector_params: dict[str, float] = Field(default_factory=dict)
    detector_online: dict[str, float] = Field(default_factory=dict)

    @field_validator("detector_params", "detector_online")
    @classmethod
    def _known_fields(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        from cutwatch.api.leader import OnlineConfig, overridden
        from cutwatch.detectors.params import Params

        overridden(Params if info.field_name == "detector_params" else OnlineConfig, value)
        return value

    def geoip_paths(self) -> tuple[Path, ...]:
        paths = [p for p in (self.geoip_asn_db, self.geoip_country_db) if p is not None]
        return tuple(dict.fromkeys(paths))
