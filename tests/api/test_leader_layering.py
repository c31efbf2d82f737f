"""The detection's database side lives with the service (api/leader.py, api/detection_store.py):
detectors/ stays pure, importing neither the service nor a database or HTTP library."""

from __future__ import annotations

import ast
from pathlib import Path

DETECTORS = Path(__file__).resolve().parents[2] / "detectors"
FORBIDDEN = ("api", "psycopg", "psycopg_pool", "fastapi", "httpx", "uvicorn", "prometheus_client")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_detectors_import_no_service_database_or_http_code() -> None:
    files = sorted(DETECTORS.glob("*.py"))
    assert len(files) > 10  # the positive control: the package is where we look
    offenders = {f.name: sorted(_imports(f) & set(FORBIDDEN)) for f in files}
    assert {name: found for name, found in offenders.items() if found} == {}
