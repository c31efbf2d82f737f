"""Schemathesis against the running service with valid credentials: no 5xx, and every answer
(status, content type, headers, body) is what the OpenAPI document declares.

Bounded: a few examples per operation and generation mode, a few hundred requests in all.
Creating or changing a subscription is left out: its URL check resolves host names, and
tests send nothing beyond loopback (tests/webhooks covers those routes with a fake resolver).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from collector_helpers import ADMIN_TOKEN, LiveServer, new_probe
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cutwatch.api.settings import Settings

EXAMPLES = 6
# No 5xx, and every answer as declared. Not "positive data accepted": the schema cannot say
# every rule (an ISO country code, a subdivision of that country), so a 422 is expected.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
SKIPPED = {("POST", "/v1/subscriptions"), ("PATCH", "/v1/subscriptions/{subscription_id}")}


def credential_for(path: str, tokens: dict[str, str]) -> str:
    if path in ("/v1/batches", "/v1/checkin"):
        return tokens["probe"]
    if path.startswith("/v1/subscriptions"):
        return tokens["subscriber"]
    return tokens["admin"]


@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning")
def test_the_service_keeps_its_openapi_promises(settings: Settings) -> None:
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    failures: list[str] = []
    calls = 0
    with LiveServer(unlimited, log_level="critical") as live:
        _, probe_token = new_probe(live)
        with live.client(token=ADMIN_TOKEN) as admin:
            key = admin.post("/v1/subscribers", json={"name": "fuzz"}).json()["api_key"]
        tokens = {"admin": ADMIN_TOKEN, "probe": probe_token, "subscriber": key}
        schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 20
        for operation in operations:
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                                 operation.as_strategy(GenerationMode.NEGATIVE))
            headers = {"Authorization": f"Bearer {credential_for(operation.path, tokens)}"}
            calls += run(operation, strategy, live.url, headers, failures)
    assert calls > 100
    assert failures == []


def run(operation: Any, strategy: Any, base_url: str, headers: dict[str, str],
        failures: list[str]) -> int:
    """Up to EXAMPLES cases of one operation; failures are collected, not raised."""
    calls = 0

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    @given(strategy)
    def call(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' own failure groups
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            failures.append(f"{case.method} {case.path}: {' | '.join(lines[:12])}")

    call()
    return calls
