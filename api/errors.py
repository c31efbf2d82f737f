"""Every error is JSON ``{"detail": "one line"}`` with the right status, and says so in OpenAPI.

Validation errors get the one-line form; a database that is down or saturated answers 503
with ``Retry-After`` (the pool waits ``db_wait_seconds``, not 30 s); anything unexpected is a
JSON 500 (logged with its traceback). ``declare_errors`` writes the statuses each route can
answer, with this body shape, into the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from cutwatch import validation
from cutwatch.wire import Batch

log = logging.getLogger(__name__)

# Location parts that say where the value came from, not which value it was.
_SOURCES = frozenset({"body", "query", "path", "header"})
# Seconds a client should wait before retrying while the database is unavailable.
RETRY_AFTER_DB_S = 1


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """The first validation error as ``location: message`` (plus how many more)."""
    return validation.describe_errors(errors, skip=_SOURCES)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Replaces FastAPI's list-of-errors 422 with the one-line form."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": describe_errors(list(errors))})


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The pool had no connection in time, or the connection broke: retry shortly."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(status_code=503, content={"detail": "database unavailable, retry later"},
                        headers={"Retry-After": str(RETRY_AFTER_DB_S)})


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback itself; the client gets JSON, not a text page.
    return JSONResponse(status_code=500, content={"detail": "internal error"})


def install(app: FastAPI) -> None:
    """The handlers above, on ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(PoolTimeout, database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, database_unavailable)
    app.add_exception_handler(Exception, internal_error)
    declare_errors(app)


# Statuses per route beyond the defaults below, as "METHOD /path".
EXTRA: Mapping[str, tuple[int, ...]] = {
    "POST /v1/batches": (400, 403, 409, 413, 415),
    "POST /v1/subscriptions": (409,),
    "GET /v1/probes": (404,),
}
# Read without a credential; everything else needs a bearer token (401).
PUBLIC = frozenset({
    "GET /healthz", "GET /readyz", "GET /v1/probes", "GET /v1/probes/{probe_id}/results",
    "GET /v1/events", "GET /v1/events/{event_id}", "GET /v1/feeds/events.atom",
    "GET /v1/feeds/events.json",
})
_DESCRIPTIONS = {
    400: "Malformed request (JSON, gzip, Content-Length)",
    401: "Missing or invalid credential",
    403: "The credential may not do this",
    404: "No such resource",
    409: "Conflicts with what is stored",
    413: "Body too large",
    415: "Unsupported content type or encoding",
    422: "Invalid value (the first problem, in one line)",
    429: "Rate limit exceeded; see Retry-After",
    503: "Database unavailable; see Retry-After",
}


def statuses(method: str, path: str, operation: Mapping[str, Any]) -> set[int]:
    """The error statuses one operation can answer."""
    key = f"{method.upper()} {path}"
    if path == "/healthz":
        return set()
    found = {503} if path == "/readyz" else {429, 503}
    if key not in PUBLIC:
        found.add(401)
    if "{" in path:
        found.add(404)
    if "requestBody" in operation:
        found |= {400, 413, 422}  # 400: not JSON at all
    if operation.get("parameters") or "requestBody" in operation:
        found.add(422)
    found |= set(EXTRA.get(key, ()))
    return found


def declare_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare every error status with the ``ErrorBody`` shape."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        _declare_batch_body(schema)
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses(method, path, operation)):
                    responses[str(status)] = {
                        "description": _DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ref}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_batch_body(schema: dict[str, Any]) -> None:
    # POST /v1/batches reads its body itself (gzip, size caps), so FastAPI cannot see it.
    operation = schema.get("paths", {}).get("/v1/batches", {}).get("post")
    if operation is None:
        return
    batch = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = schema["components"]["schemas"]
    schemas.update(batch.pop("$defs", {}))
    schemas["Batch"] = batch
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    }
