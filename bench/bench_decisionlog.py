"""Decision-log overhead on the scoring API p99 (#10), against the same API with the log off.

Set-up (not timed) as bench_online (``served_world``: feature tables materialised into Redis db 13, a
credit_pd champion), then three ``riskpipe serve`` processes, identical but for the log: ``on``
(decision log on, as in production; shadow scoring off, as there is no challenger), ``off`` and
``control`` (both off). One client (``http.client``, keep-alive) sends the same 30,000 requests to each
in 30 rotating blocks of 1,000, so drift on the machine hits all three alike.

Figure: p99 of ``on``; anchor: p99 of ``off``; ratio on/off. Goal: <= 1.1. A ratio of two p99s is
noisy (two identical log-off servers differed by 18% with 10,000 requests each, 2026-11-28): the
off/control ratio in the note is that noise for the run at hand. Lower is better. The figure is a ratio
measured in one run, so it compares across machines; the latencies themselves are the machine's.
"""

from __future__ import annotations

import contextlib

from bench.bench_online import _http_load, _pct, served_world

REQUESTS, BLOCKS = 30_000, 30


def run(scale: str) -> list[dict]:
    with served_world(scale, "bench-decisionlog-") as w, contextlib.ExitStack() as stack:
        bodies = w.score_bodies(REQUESTS)
        modes = ("on", "off", "control")
        urls = {m: stack.enter_context(w.scoring_api(m, RISKPIPE_SERVE_DECISION_LOG="true" if m == "on" else "false"))
                for m in modes}
        for m in modes:
            _http_load(urls[m], bodies[:w.warm], 1)
        timed = bodies[w.warm:]
        lat: dict[str, list[float]] = {m: [] for m in modes}
        for b in range(BLOCKS):  # rotate the order so drift on the machine hits all alike
            part = timed[b::BLOCKS]
            for m in modes[b % 3:] + modes[:b % 3]:
                lat[m] += _http_load(urls[m], part, 1)[0]
        logged = sum(1 for _ in (w.work / "lake" / "decisions").rglob("*.parquet"))
    on99, off99, ctl99 = (_pct(lat[m], 99) for m in modes)
    return [{"name": "decision log overhead on the scoring API p99", "figure": round(on99, 3), "unit": "ms",
             "anchor": "same API, decision log off (rotating blocks)", "anchor_figure": round(off99, 3),
             "ratio": round(on99 / off99, 3), "goal": "<= 1.1",
             "note": f"{len(lat['on']):,} requests per server, {logged} decision files written; p50 on "
                     f"{_pct(lat['on'], 50):.3f} ms vs off {_pct(lat['off'], 50):.3f} ms; control (a second "
                     f"log-off server in the same blocks): p99 {ctl99:.3f} ms, off/control {off99 / ctl99:.3f} "
                     "(the noise of a p99 ratio)"}]
