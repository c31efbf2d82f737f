"""One wording for every 4xx: ``{"detail": "one line"}``, also for validation errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cutwatch import validation

# Location parts that say where the value came from, not which value it was.
_SOURCES = frozenset({"body", "query", "path", "header"})


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """The first validation error as ``location: message`` (plus how many more)."""
    return validation.describe_errors(errors, skip=_SOURCES)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Replaces FastAPI's list-of-errors 422 with the one-line form."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": describe_errors(list(errors))})
