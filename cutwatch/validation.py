"""One line for a pydantic validation error, at every edge that reports one.

The collector's 4xx ``detail`` (``cutwatch.api.errors``) and the probe's config errors
(``cutwatch.probes.config``) word the first error the same way: ``location: message (and N more)``.
Only the standard library here: the probe uses it without the service's dependencies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any


def describe_errors(errors: Sequence[Mapping[str, Any]], *, skip: Collection[Any] = ()) -> str:
    """The first error as ``location: message`` (plus how many more). Location parts in
    ``skip`` say where the value came from or which union member it was tried as, not which
    field, and are left out."""
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p not in skip)
    msg = str(first.get("msg", "invalid"))
    text = f"{loc}: {msg}" if loc else msg
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text
