"""Generator throughput vs writing random Arrow tables of the same shape to the same formats.

Figure: rows/s of `riskpipe generate` (all seven sources, defects on). Anchor: the same number of
rows per source and day, as random columns of the same Arrow types, written with the same writers
(CSV / JSONL / Parquet) in the same run. Higher is better; goal: ratio >= 0.30.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def _random_like(tbl: pa.Table, rng: np.random.Generator) -> pa.Table:
    cols = {}
    n = tbl.num_rows
    for f in tbl.schema:
        if pa.types.is_integer(f.type):
            cols[f.name] = pa.array(rng.integers(0, 10**12, n), f.type)
        elif pa.types.is_floating(f.type):
            cols[f.name] = pa.array(rng.random(n), f.type)
        elif pa.types.is_struct(f.type):
            cols[f.name] = pa.StructArray.from_arrays(
                [pa.array(rng.random(n)) for _ in f.type], names=[x.name for x in f.type])
        else:
            width = max(1, int(np.mean([len(str(x)) for x in tbl[f.name].to_pylist()[:1000] if x]) or 8))
            raw = rng.integers(97, 123, (n, width), dtype=np.uint8).tobytes()
            offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
            cols[f.name] = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(raw))
    return pa.table(cols)


def run(scale: str) -> list[dict]:
    from riskpipe.sources.config import load_sources
    from riskpipe.sources.generator import _write_table, generate

    customers, days = (1_000_000, 30) if scale == "full" else (50_000, 5)
    sources = load_sources()
    work = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    try:
        # warm-up: the anchor half runs after generate and finds the writers' modules (polars, pyarrow.parquet,
        # pandas via pyarrow) imported; without this the figure alone pays their first import
        generate(customers=10, days=1, seed=1, landing=work / "warm", ground_truth=work / "warm-gt")
        t0 = time.perf_counter()
        summary = generate(customers=customers, days=days, seed=1, landing=work / "landing",
                           ground_truth=work / "gt")
        gen_s = time.perf_counter() - t0
        rows = sum(summary.rows.values())
        # anchor: same shapes, random values, same writers
        import polars as pl
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        rng = np.random.default_rng(0)
        shapes = []
        for name, spec in sources.sources.items():
            for path in sorted((work / "landing" / name).glob("dt=*/*")):
                if path.stat().st_size == 0:
                    continue
                try:
                    if spec.format == "parquet":
                        tbl = pq.read_table(path)
                    elif spec.format == "csv":
                        tbl = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(
                            delimiter=str(spec.options.get("delimiter", ","))))
                    else:
                        tbl = pl.read_ndjson(path).to_arrow()
                except Exception:
                    continue  # the deliberately truncated file
                shapes.append((spec, _random_like(tbl, rng), path.name))
        anchor_rows = sum(t.num_rows for _, t, _ in shapes)
        out = work / "anchor"
        out.mkdir()
        t0 = time.perf_counter()
        for i, (spec, tbl, fname) in enumerate(shapes):
            _write_table(tbl, out / f"{i}-{fname}", spec)
        anchor_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fig, anc = rows / gen_s, anchor_rows / anchor_s
    return [{
        "name": "generate", "figure": fig, "unit": "rows/s", "anchor": "random Arrow tables, same writers",
        "anchor_figure": anc, "ratio": fig / anc, "goal": ">= 0.30",
        "note": f"higher is better; {customers:,} customers x {days} days = {rows:,} rows "
                f"({summary.rows['transactions']:,} transactions) in {gen_s:.1f}s",
    }]


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "small"))
