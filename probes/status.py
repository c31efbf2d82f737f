"""``cutwatch probe status``: what the volunteer wants to know at a glance, read from the spool."""

from __future__ import annotations

import json
import time
from typing import Any

from cutwatch.probes.config import ProbeConfig


def collect(config: ProbeConfig) -> dict[str, Any]:
    from cutwatch.probes.main import SPOOL, spool_for

    if not (config.probe.state_dir / SPOOL).exists():
        return {"spool": None}
    spool = spool_for(config)
    try:
        waiting = spool.depth()  # a count over the whole spool: once
        return {
            "spool": {"waiting": waiting, "in_open_batch": waiting - spool.pending(),
                      "bytes": spool.used_bytes(), "dropped_total": spool.counter("dropped_total")},
            "last_upload_at": _iso(spool.number("last_upload_at")),
            "last_attempt_at": _iso(spool.number("last_attempt_at")),
            "last_upload_error": spool.meta("last_upload_error"),
            "bytes_sent_today": spool.bytes_sent_today(),
            "clock_offset_ms": spool.number("clock_offset_ms"),
            "last_results": [
                {"kind": k, "target": t, "family": f or None, "measured_at": m, "ok": ok,
                 "failure": fail} for k, t, f, m, ok, fail in spool.last_results()],
        }
    finally:
        spool.close()


def render(config: ProbeConfig, *, as_json: bool = False) -> str:
    state = collect(config)
    if as_json:
        return json.dumps(state, indent=2)
    if state["spool"] is None:
        return f"no spool yet in {config.probe.state_dir} (has 'cutwatch probe run' started?)"
    spool = state["spool"]
    error = state["last_upload_error"]
    lines = [
        f"spool:            {spool['waiting']} results waiting ({spool['bytes'] / 1e6:.2f} MB), "
        f"{spool['dropped_total']} dropped since installation",
        f"last upload:      {state['last_upload_at'] or 'never'}",
        f"last error:       {error or 'none'}",
        f"bytes sent today: {state['bytes_sent_today']}",
        f"clock offset:     {_ms(state['clock_offset_ms'])}",
        "last results:",
    ]
    for r in state["last_results"]:
        verdict = "ok" if r["ok"] else r["failure"]
        lines.append(f"  {r['kind']:<10} {r['target']:<28} {r['family'] or '-':<5} "
                     f"{r['measured_at'][:19]}  {verdict}")
    return "\n".join(lines)


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:+.0f} ms (probe minus collector)"
