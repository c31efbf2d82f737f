"""One wording for every 4xx: ``{"detail": "one line"}``, also for validation errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# Location parts that say where the value came from, not which value it was.
_SOURCES = frozenset({"body", "query", "path", "header"})


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """The first validation error as ``location: message`` (plus how many more)."""
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p not in _SOURCES)
    msg = str(first.get("msg", "invalid"))
    text = f"{loc}: {msg}" if loc else msg
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Replaces FastAPI's list-of-errors 422 with the one-line form."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": describe_errors(list(errors))})
