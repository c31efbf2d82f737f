"""Progress of the long offline jobs (``simulate``, ``replay``, ``bench detect``) on stderr.

A bar only when stderr is a terminal: piped or redirected output (scripts, CI logs, files)
stays exactly what it was. The jobs' real output goes to stdout or to files, never mixed
with the bar. ``tqdm`` comes with the service extra; without it there is simply no bar.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
# Lines are counted in chunks: a bar update per line would cost more than a replay step.
CHUNK = 2000


def wanted() -> bool:
    return sys.stderr.isatty()


def _tqdm(**kwargs: Any) -> Any | None:
    if not wanted():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(file=sys.stderr, dynamic_ncols=True, leave=True, **kwargs)


def lines(source: Iterable[str], *, total_bytes: int | None, desc: str) -> Iterator[str]:
    """``source``'s lines, advancing a bar by their size (characters: ASCII JSON lines)."""
    bar = _tqdm(total=total_bytes, unit="B", unit_scale=True, desc=desc)
    if bar is None:
        yield from source
        return
    pending = count = 0
    try:
        for line in source:
            pending += len(line)
            count += 1
            if count % CHUNK == 0:
                bar.update(pending)
                pending = 0
            yield line
        bar.update(pending)
    finally:
        bar.close()


def items(source: Iterable[T], *, desc: str, unit: str = "line") -> Iterator[T]:
    """``source`` unchanged, counted on a bar of unknown length (count, rate, elapsed)."""
    bar = _tqdm(unit=unit, unit_scale=True, desc=desc)
    if bar is None:
        yield from source
        return
    count = 0
    try:
        for item in source:
            count += 1
            if count % CHUNK == 0:
                bar.update(CHUNK)
            yield item
        bar.update(count % CHUNK)
    finally:
        bar.close()


@contextmanager
def elapsed(desc: str, every_s: float = 1.0) -> Iterator[None]:
    """A ticking elapsed-time line for a job whose steps are not visible from outside."""
    bar = _tqdm(desc=desc, bar_format="{desc}: {elapsed} elapsed")
    if bar is None:
        yield
        return
    done = threading.Event()

    def tick() -> None:
        while not done.wait(every_s):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        bar.close()
