"""Wire format v1: the batch a probe POSTs to ``/v1/batches``.

These models are the single source of the format: the collector validates uploads with them,
the replay stream embeds them, and ``docs/wire-format.schema.json`` is generated from them (a
test fails when the two drift). The probe writes the same JSON from plain records
(``cutwatch.probes.records``, no pydantic on a Pi), held to that schema by a contract test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from cutwatch.failures import Failure

# The vocabulary lives in cutwatch.vocab (the probe reads it without pydantic); re-exported.
from cutwatch.vocab import (
    FIRST_YEAR as FIRST_YEAR,
)
from cutwatch.vocab import (
    LAST_YEAR as LAST_YEAR,
)
from cutwatch.vocab import (
    MAX_OFFSET_MS as MAX_OFFSET_MS,
)
from cutwatch.vocab import (
    MAX_RESULTS_PER_BATCH as MAX_RESULTS_PER_BATCH,
)
from cutwatch.vocab import (
    SCHEMA_VERSION as SCHEMA_VERSION,
)
from cutwatch.vocab import (
    Access as Access,
)
from cutwatch.vocab import (
    CheckKind as CheckKind,
)
from cutwatch.vocab import (
    Family as Family,
)
from cutwatch.vocab import (
    Scope as Scope,
)
from cutwatch.vocab import to_utc

ProbeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def _text_timestamp(value: object) -> object:
    # JSON numbers would be read as Unix seconds: "sent_at": 0 is a bug, not 1970.
    if isinstance(value, int | float):
        raise ValueError("must be an RFC 3339 date-time string, not a number")
    return value


# An RFC 3339 date-time with an offset; a number is refused (see _text_timestamp).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_timestamp)]


class _Wire(BaseModel):
    # Unknown fields are refused: a typo on the probe side must not silently lose data.
    # NaN and Infinity are refused everywhere: PostgreSQL's jsonb and the detector's
    # arithmetic cannot hold them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Result(_Wire):
    """One measurement: one check of one target, from one probe, at one moment."""

    id: UUID = Field(description="Random UUID made by the probe; the collector stores it once.")
    kind: CheckKind
    target: str = Field(min_length=1, max_length=255, description="Catalogue name of the target.")
    scope: Scope | None = Field(default=None, description="lan | domestic | international")
    family: Family | None = Field(default=None, description="IP family measured, if one.")
    measured_at: Timestamp = Field(description="When the check started (UTC, RFC 3339).")
    duration_ms: float = Field(ge=0, le=86_400_000)
    ok: bool
    failure: Failure | None = Field(
        default=None, description="From the closed failure vocabulary; null when ok."
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Kind-specific facts (rcode, answers, status, timings, ...), see docs.",
    )

    @field_validator("measured_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)


class Clock(_Wire):
    """The probe's view of its own clock when it sent the batch."""

    synced: bool | None = Field(
        default=None, description="Whether the OS reports the clock synchronised (NTP)."
    )
    offset_ms: float | None = Field(
        default=None, ge=-MAX_OFFSET_MS, le=MAX_OFFSET_MS,
        description="Probe clock minus collector clock, as last measured by the probe.",
    )


class Heartbeat(_Wire):
    """Liveness facts that travel with every batch, even an empty one."""

    seq: int = Field(ge=0, description="Batch sequence number, +1 per new batch.")
    spool_depth: int = Field(ge=0, description="Results still waiting after this batch.")
    dropped_total: int = Field(
        ge=0, description="Results the spool has dropped (size/age caps) since installation."
    )
    started_at: Timestamp | None = Field(
        default=None, description="When the probe process started (tells reboots apart)."
    )
    software: str | None = Field(default=None, max_length=64)

    @field_validator("started_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else to_utc(value)


class Batch(_Wire):
    """One upload. Retried unchanged (same ``batch_id``) until the collector acknowledges it."""

    schema_version: Literal[1]
    batch_id: UUID
    probe_id: ProbeId
    sent_at: Timestamp
    clock: Clock = Field(default_factory=Clock)
    heartbeat: Heartbeat
    results: list[Result] = Field(default_factory=list, max_length=MAX_RESULTS_PER_BATCH)

    @field_validator("sent_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)


class RefusedResult(BaseModel):
    """One result of an accepted batch that the collector refused, and why (never retried)."""

    index: int = Field(ge=0, description="Position of the result in the batch's results.")
    id: UUID | None = Field(description="The result's id, when it could be read.")
    detail: str = Field(description="Why, in one line: `field: message`.")


class BatchAck(BaseModel):
    """The collector's answer to an accepted batch."""

    batch_id: UUID
    accepted: int = Field(description="Results stored by this request.")
    duplicates: int = Field(description="Results already stored earlier (retries).")
    refused: list[RefusedResult] = Field(
        default_factory=list,
        description="Results refused for good (the rest of the batch is stored); the probe "
        "drops them instead of resending.",
    )
    server_time: AwareDatetime


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a batch, as checked in under docs/."""
    schema = Batch.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://cutwatch.example/schemas/batch-v1.json"
    return schema
