"""``cutwatch admin subscriber add|list|revoke`` against a real database and the real service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from live_service import LiveService

from cutwatch.cli import main

from .service import settings_for


def test_operator_issues_lists_and_revokes_keys_from_the_cli(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    db = ["--database-url", database_url]
    assert main(["admin", "subscriber", "add", "--name", "Radio Free Desk", *db]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["name"] == "Radio Free Desk"
    assert issued["api_key"].startswith(issued["id"] + ".")

    assert main(["admin", "subscriber", "list", *db]) == 0
    listed = capsys.readouterr().out
    assert issued["id"] in listed
    assert "active" in listed
    assert issued["api_key"].split(".")[1] not in listed

    with LiveService(settings_for(database_url, tmp_path)) as service:
        with service.client(issued["api_key"]) as client:
            assert client.get("/v1/subscriptions").status_code == 200
        assert main(["admin", "subscriber", "revoke", issued["id"], *db]) == 0
        with service.client(issued["api_key"]) as client:
            assert client.get("/v1/subscriptions").json() == {
                "detail": "invalid subscriber API key"}

    assert main(["admin", "subscriber", "revoke", "sbr_nobody", *db]) == 2
    assert capsys.readouterr().err.strip() == "cutwatch: error: no subscriber sbr_nobody"
    assert main(["admin", "subscriber", "add", "--name", " ", *db]) == 2
