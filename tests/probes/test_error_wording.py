"""One wording for validation errors on both sides: the probe's config and the collector's 4xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cutwatch.probes.config import ConfigError, load_config
from cutwatch.validation import describe_errors


@pytest.mark.parametrize(("errors", "skip", "line"), [
    ([], (), "invalid request"),
    ([{"loc": ("body", "results", 0, "kind"), "msg": "bad"}], {"body"}, "results.0.kind: bad"),
    ([{"loc": ("targets", 0, "tcp", "port"), "msg": "too big"}, {"loc": ("x",), "msg": "y"}],
     {"tcp"}, "targets.0.port: too big (and 1 more)"),
    ([{"loc": ("body",), "msg": "not JSON"}], {"body"}, "not JSON"),
    ([{"loc": (), "msg": "no"}], (), "no"),
])
def test_first_error_in_one_line(errors: list[dict[str, Any]], skip: set[str], line: str) -> None:
    assert describe_errors(errors, skip=skip) == line


def test_config_counts_the_other_errors(tmp_path: Path) -> None:
    path = tmp_path / "probe.toml"
    path.write_text("[[targets]]\nkind = 'dns'\nname = 'n'\ntag = 'lan'\nquery = ''\n"
                    "timeout = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"config {path}: targets.0.timeout: Input should be greater "
                               "than 0 (and 1 more)")
