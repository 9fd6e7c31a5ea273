"""Run the benchmarks: ``python -m bench [--scale small|full] [--only NAME ...]``.

Each ``bench/bench_<name>.py`` exposes ``run(scale) -> list[dict]`` with keys name, figure, unit,
anchor, anchor_figure, ratio, goal, note. Results are printed beside their anchors, saved as JSON in
bench/results/, and BENCHMARKS.md is rewritten from the latest result of every benchmark (so a
partial run keeps the other benchmarks' last figures, each with its own machine and date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LATEST = HERE / "latest.json"  # committed: the figures BENCHMARKS.md shows


def machine() -> str:
    mem = ""
    try:
        kb = int(next(x for x in open("/proc/meminfo") if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.machine()} {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def render(latest: dict[str, dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); each figure is measured beside its anchor in the same run,",
        "and the ratio is figure / anchor (the note says which direction is better). Scale `small` runs in",
        "minutes; `--scale full` is the size the issue names.",
        "",
        "| benchmark | scale | figure | anchor | anchor figure | ratio | goal | machine | date | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(latest):
        entry = latest[name]
        for r in entry["results"]:
            lines.append(
                f"| {r['name']} | {entry['scale']} | {r['figure']:.4g} {r['unit']} | {r['anchor']} | "
                f"{r['anchor_figure']:.4g} {r['unit']} | {r['ratio']:.4g} | {r['goal']} | {entry['machine']} | "
                f"{entry['date']} | {r.get('note', '')} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--scale", choices=["small", "full", "huge"], default="small",
                    help="huge: only benchmarks that define it (ingest 30M rows, quality_credit 100,000 customers, "
                         "dbt 100,000 customers tiled); "
                         "others run full")
    ap.add_argument("--only", nargs="*", default=None, help=f"any of: {', '.join(discover())}")
    args = ap.parse_args(argv)
    names = args.only or discover()
    RESULTS.mkdir(exist_ok=True)
    latest = json.loads(LATEST.read_text()) if LATEST.exists() else {}
    failed = []
    for name in names:
        mod = importlib.import_module(f"bench.bench_{name}")
        scale = args.scale if args.scale != "huge" or getattr(mod, "HUGE", False) else "full"
        print(f"== {name} ({scale})", flush=True)
        try:
            results = mod.run(scale)
        except Exception as err:  # a broken benchmark must not hide the others' figures
            print(f"   FAILED: {err!r}", file=sys.stderr)
            failed.append(name)
            continue
        for r in results:
            print(f"   {r['name']}: {r['figure']:.4g} {r['unit']} vs {r['anchor']} {r['anchor_figure']:.4g} "
                  f"{r['unit']} -> ratio {r['ratio']:.4g} (goal {r['goal']})", flush=True)
        entry = {"scale": scale, "machine": machine(), "date": dt.date.today().isoformat(), "results": results}
        latest[name] = entry
        RESULTS.mkdir(exist_ok=True)  # (again: a long run may outlive a cleanup of the folder)
        (RESULTS / f"{name}-{scale}.json").write_text(json.dumps(entry, indent=2))
    LATEST.write_text(json.dumps(latest, indent=2, sort_keys=True))
    (HERE.parent / "BENCHMARKS.md").write_text(render(latest))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
