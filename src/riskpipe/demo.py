"""`riskpipe demo`: the whole pipeline end to end on the embedded defaults, then a summary.

Each step is a plain call of the same riskpipe function a person, a DAG or a test would call; the
demo only chooses a small size and prints what each step produced and where.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


@dataclasses.dataclass
class StepResult:
    name: str
    seconds: float
    produced: list[tuple[str, str]]  # (what, where / how much)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    customers: int = 3_000
    days: int = 8
    start: dt.date = dt.date(2026, 1, 1)
    seed: int = 7


def _size(path: Path) -> str:
    files = [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
    return f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB"


def step_generate(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.settings import get_settings
    from riskpipe.sources.generator import generate

    s = get_settings()
    summary = generate(customers=cfg.customers, days=cfg.days, start=cfg.start, seed=cfg.seed)
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    defects = ", ".join(f"{k} {v}" for k, v in sorted(summary.defects.items()))
    return [
        ("landing data (7 sources)", f"{s.landing}  [{rows}]"),
        ("defect manifest", f"{s.landing / '_manifest' / 'defects.jsonl'}  [{defects}]"),
        ("ground truth (true label probabilities)", str(s.ground_truth)),
    ]


def step_ingest(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.ingest.pipeline import default_gate, ingest_date
    from riskpipe.settings import get_settings

    s = get_settings()
    read = written = quarantined = dups = 0
    gate = default_gate()
    blocked: list[str] = []
    for i in range(cfg.days):
        for r in ingest_date(cfg.start + dt.timedelta(days=i), gate=gate, blocked=blocked):
            read, written = read + r.rows_read, written + r.rows_written
            quarantined, dups = quarantined + r.rows_quarantined, dups + r.duplicates_dropped
    gate_line = "; ".join(m.split(": not published")[0] for m in blocked) if blocked else "none"
    return [
        ("silver tables (tokenised, deduplicated, UTC)", f"{s.silver}  [{written:,} rows of {read:,} read]"),
        ("quarantine (file, row, reason per rejected row)", f"{s.quarantine}  [{quarantined:,} rows]"),
        ("duplicates dropped", f"{dups:,}"),
        ("blocked by the quality gate (not published)", gate_line),
        ("validation results and Data Docs (HTML)", f"{s.runs / 'validate'}, {s.reports / 'data_docs'}"),
        ("run metadata (counts, checksums, durations)", str(s.runs / "ingest")),
    ]


#: The demo's steps, in pipeline order. Later stages append theirs here.
STEPS: list[tuple[str, Callable[[DemoConfig], list[tuple[str, str]]]]] = [
    ("generate", step_generate),
    ("ingest", step_ingest),
]


def run_demo(cfg: DemoConfig, on_step: Callable[[str], None] | None = None) -> list[StepResult]:
    """Run every step in order; a failing step stops the demo with its error (nothing is hidden)."""
    results = []
    for name, fn in STEPS:
        if on_step:
            on_step(name)
        t0 = time.perf_counter()
        produced = fn(cfg)
        results.append(StepResult(name, time.perf_counter() - t0, produced))
        log.info("demo step %s done in %.1fs", name, results[-1].seconds)
    return results
