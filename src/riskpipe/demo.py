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


#: The demo's steps, in pipeline order. Later stages append theirs here.
STEPS: list[tuple[str, Callable[[DemoConfig], list[tuple[str, str]]]]] = [
    ("generate", step_generate),
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
