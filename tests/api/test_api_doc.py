"""docs/api.md lists every route the app really has (its OpenAPI schema)."""

from __future__ import annotations

import re
from pathlib import Path

from cutwatch.api.app import create_app
from cutwatch.api.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _shape(path: str) -> str:
    # Parameter names may differ between the code and the prose ({id} for {token_id}).
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_route_is_listed() -> None:
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    routes = {f"{method.upper()} {_shape(path)}"
              for path, operations in app.openapi()["paths"].items() for method in operations}
    listed = {f"{m} {_shape(p)}"
              for m, p in re.findall(r"`(GET|POST|PATCH|PUT|DELETE) (/[^`? ]*)", DOC.read_text())}
    assert len(routes) > 20
    assert sorted(routes - listed) == []
