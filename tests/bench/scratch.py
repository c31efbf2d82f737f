"""The database a benchmark runs on: the one given, or a throwaway embedded PostgreSQL."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cutwatch.api.embedded import embedded_database


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """``url`` itself (an empty database), or an embedded server removed afterwards."""
    if url:
        yield url
        return
    scratch = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    try:
        with embedded_database(scratch) as embedded:
            yield embedded
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
