"""``cutwatch probe register``: enrol this probe with a collector and keep its credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from cutwatch.probes.config import ConfigError, Credentials, collector_url, save_credentials
from cutwatch.probes.uploader import detail_of


def register_probe(collector: str, token: str, *, state_dir: Path, country: str,
                   subdivision: str | None, city: str | None, access: str,
                   name: str | None) -> tuple[Path, str]:
    try:
        collector = collector_url(collector)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    body: dict[str, Any] = {"country": country.upper(), "access": access}
    body |= {k: v for k, v in (("subdivision", subdivision), ("city", city), ("name", name))
             if v}
    try:
        response = httpx.post(f"{collector}/v1/probes", json=body, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot reach {collector}: {exc}") from None
    if response.status_code != 201:
        raise ConfigError(f"registration refused: HTTP {response.status_code}: "
                          f"{detail_of(response)}")
    reply = response.json()
    credentials = Credentials(probe_id=reply["probe_id"], token=reply["token"],
                              collectors=(collector,))
    return save_credentials(state_dir, credentials), credentials.probe_id
