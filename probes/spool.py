"""The crash-safe local spool: every result lands here first, and leaves only once acknowledged.

SQLite in WAL mode with ``synchronous=FULL``: each commit is fsynced before ``add()`` returns,
so a result the probe has recorded survives kill -9 *and* power loss (NORMAL would survive
kill -9 but may lose the last commits on power loss; at a few commits a minute the fsync
costs nothing). The batch being uploaded is stored with its exact gzip body, so a crash
between send and ack resends the same ``batch_id`` with the same content.

The running agent stores results through ``SpoolWriter``: one thread with its own connection
does the inserts and their fsyncs, and the agent awaits each one, so a result is still durable
before the agent goes on, but the event loop (where other checks are timing their round
trips) never stalls on a disk that takes 10-300 ms to fsync.

Caps: results older than ``max_age`` and, above ``max_bytes``, the oldest results are dropped
and counted (``dropped_total`` travels in every heartbeat). Results are stored as JSON
compressed with a preset dictionary of the wire vocabulary, ~2.5x smaller than plain JSON.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cutwatch.probes.records import Result
from cutwatch.probes.spool_codec import decode, encode

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    measured_at REAL NOT NULL,
    batch_id TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_in_batch ON results (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    created_at REAL NOT NULL,
    result_count INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS last_results (
    kind TEXT, target TEXT, family TEXT, measured_at TEXT, ok INTEGER, failure TEXT,
    PRIMARY KEY (kind, target, family)
);
"""


@dataclass(frozen=True)
class SpoolLimits:
    max_bytes: int = 20_000_000
    max_age_s: float = 14 * 86_400


class SpoolChanged(RuntimeError):
    """Reserved results were dropped (size/age caps) before the batch was stored: build anew."""


@dataclass(frozen=True)
class OpenBatch:
    batch_id: str
    seq: int
    result_count: int
    body: bytes  # gzip JSON, exactly what is (re)sent


class Spool:
    def __init__(self, path: Path, limits: SpoolLimits | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limits = limits or SpoolLimits()
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        # Keep the WAL small: it counts against the spool's size budget.
        self.db.execute("PRAGMA wal_autocheckpoint=256")
        self.db.execute("PRAGMA journal_size_limit=1048576")
        self.db.execute("PRAGMA cache_size=-256")  # KiB: the spool is read in small slices
        self.db.executescript(SCHEMA)
        self._adds = 0

    def close(self) -> None:
        self.db.close()

    # -- writing results ---------------------------------------------------------------

    def add(self, result: Result) -> None:
        """Store one result durably (returns after fsync)."""
        body = encode(result)
        with self._tx():
            self.db.execute("INSERT INTO results (measured_at, body) VALUES (?, ?)",
                            (result.measured_at.timestamp(), body))
            self.db.execute(
                "INSERT OR REPLACE INTO last_results VALUES (?, ?, ?, ?, ?, ?)",
                (result.kind, result.target, result.family or "", result.measured_at.isoformat(),
                 int(result.ok), result.failure))
        self._adds += 1
        if self._adds % 50 == 1:
            self.enforce_limits()

    def enforce_limits(self, now: float | None = None) -> int:
        """Drop what is too old, then the oldest while over the size cap; count the drops."""
        now = time.time() if now is None else now
        dropped = 0
        with self._tx():
            cur = self.db.execute(
                "DELETE FROM results WHERE batch_id IS NULL AND measured_at < ?",
                (now - self.limits.max_age_s,))
            dropped += cur.rowcount
            while (excess := self.used_bytes() - self.limits.max_bytes) > 0:
                # Drop enough rows to cover the excess, at least 1% of what is waiting.
                count = max(self.depth() // 100, excess // max(self._avg_row(), 1) + 1, 1)
                cur = self.db.execute(
                    "DELETE FROM results WHERE seq IN (SELECT seq FROM results WHERE batch_id "
                    "IS NULL ORDER BY seq LIMIT ?)", (count,))
                if cur.rowcount == 0:
                    break
                dropped += cur.rowcount
            if dropped:
                self._bump("dropped_total", dropped)
        return dropped

    # -- batches -----------------------------------------------------------------------

    def open_batch(self) -> OpenBatch | None:
        row = self.db.execute(
            "SELECT batch_id, seq, result_count, body FROM batches ORDER BY seq LIMIT 1"
        ).fetchone()
        return OpenBatch(*row) if row else None

    def reserve(self, limit: int, fresh: int) -> list[tuple[int, Result]]:
        """The next batch's results: the ``fresh`` newest (live data is never starved by a
        backlog) plus the oldest of the rest (the backlog drains oldest first), in seq order."""
        newest = self.db.execute(
            "SELECT seq, body FROM results WHERE batch_id IS NULL ORDER BY seq DESC LIMIT ?",
            (min(fresh, limit),)).fetchall()
        oldest = self.db.execute(
            "SELECT seq, body FROM results WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
            (limit,)).fetchall()
        picked = dict(newest)
        for seq, body in oldest:
            if len(picked) >= limit:
                break
            picked.setdefault(seq, body)
        return [(seq, decode(body)) for seq, body in sorted(picked.items())]

    def store_batch(self, batch: OpenBatch, result_seqs: list[int]) -> None:
        """Mark the reserved results as in the batch and keep its body for resends: from
        here on, the batch is resent unchanged until acknowledged, across restarts."""
        with self._tx():
            marked = 0
            for seq in result_seqs:
                marked += self.db.execute(
                    "UPDATE results SET batch_id = ? WHERE seq = ? AND batch_id IS NULL",
                    (batch.batch_id, seq)).rowcount
            if marked != len(result_seqs):
                # The writer thread's cap enforcement dropped some between reserve() and here.
                raise SpoolChanged(f"{len(result_seqs) - marked} reserved result(s) were "
                                   "dropped by the spool's caps; the next round rebuilds")
            self.db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                            (batch.batch_id, batch.seq, time.time(), batch.result_count,
                             batch.body))
            self._set("batch_seq", batch.seq)

    def acknowledge(self, batch_id: str, sent_bytes: int, offset_ms: float | None) -> None:
        with self._tx():
            self.db.execute("DELETE FROM results WHERE batch_id = ?", (batch_id,))
            self.db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._set("last_upload_at", time.time())
            self._set("last_upload_error", None)
            if offset_ms is not None:
                self._set("clock_offset_ms", offset_ms)
            self._count_bytes(sent_bytes)

    def discard_batch(self, batch_id: str, *, drop: bool, sent_bytes: int = 0) -> None:
        """Give up on a batch the collector refused: drop its results (counted) or release them."""
        with self._tx():
            if drop:
                cur = self.db.execute("DELETE FROM results WHERE batch_id = ?", (batch_id,))
                self._bump("dropped_total", cur.rowcount)
            else:
                self.db.execute("UPDATE results SET batch_id = NULL WHERE batch_id = ?",
                                (batch_id,))
            self.db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._count_bytes(sent_bytes)

    def record_failure(self, error: str, sent_bytes: int = 0) -> None:
        with self._tx():
            self._set("last_upload_error", error[:300])
            self._set("last_attempt_at", time.time())
            self._count_bytes(sent_bytes)

    # -- reading state -----------------------------------------------------------------

    def depth(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM results").fetchone()[0])

    def pending(self) -> int:
        return int(self.db.execute(
            "SELECT count(*) FROM results WHERE batch_id IS NULL").fetchone()[0])

    def used_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def meta(self, key: str) -> str | int | float | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def counter(self, key: str) -> int:
        value = self.meta(key)
        return int(value) if value is not None else 0

    def number(self, key: str) -> float | None:
        value = self.meta(key)
        return float(value) if value is not None else None

    def last_results(self) -> list[tuple[str, str, str, str, bool, str | None]]:
        rows = self.db.execute("SELECT * FROM last_results ORDER BY kind, target, family")
        return [(k, t, f, m, bool(ok), fail) for k, t, f, m, ok, fail in rows]

    def bytes_sent_today(self) -> int:
        return self.counter(_bytes_sent_key())

    # -- helpers -----------------------------------------------------------------------

    def _avg_row(self) -> int:
        row = self.db.execute("SELECT avg(length(body)) FROM results").fetchone()
        return int((row[0] or 100) + 40)  # + SQLite row and index overhead

    def _set(self, key: str, value: object) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _bump(self, key: str, amount: int) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = coalesce(value, 0) + excluded.value", (key, amount))

    def _count_bytes(self, sent: int) -> None:
        if sent:
            self._bump(_bytes_sent_key(), sent)

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class SpoolWriter:
    """Stores results into the spool at ``path`` from one dedicated thread.

    The thread has its own SQLite connection (WAL: the agent's reads on the main connection
    never wait for it) and does exactly what ``Spool.add`` does, fsync included; ``await
    add()`` returns once the result is durable. One thread keeps the results in the order
    they were added and never has two fsyncs in flight.
    """

    def __init__(self, path: Path, limits: SpoolLimits | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._spool: Spool | None = None
        self._executor.submit(self._open, path, limits).result()

    def _open(self, path: Path, limits: SpoolLimits | None) -> None:
        self._spool = Spool(path, limits)

    def _add(self, result: Result) -> None:
        assert self._spool is not None
        self._spool.add(result)

    async def add(self, result: Result) -> None:
        """Store one result durably without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._add, result)

    def close(self) -> None:
        """Finish the writes in hand, then close the connection and the thread."""
        def close_spool() -> None:
            if self._spool is not None:
                self._spool.close()
                self._spool = None

        self._executor.submit(close_spool).result()
        self._executor.shutdown(wait=True)


def _bytes_sent_key() -> str:
    """The meta key of today's upload counter (UTC day)."""
    return time.strftime("bytes_sent:%Y-%m-%d", time.gmtime())


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK): one fsynced unit of change."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")

