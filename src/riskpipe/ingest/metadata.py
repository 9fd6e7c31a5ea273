"""Run metadata: one JSON per ingest run (counts, phases, inputs, partitions touched) plus ``latest.json``.

Lives in ``<lake>/_runs/ingest/<dataset>/dt=<landing date>/``. ``partitions_touched`` is read back by the
next run of the same landing date, so a rerun also rewrites partitions an earlier run of that date touched.
Nothing in here is raw PII: file names, hashes, counts and partition dates only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def file_info(path: Path, landing: Path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"file": str(path.relative_to(landing)), "sha256": h.hexdigest(), "size": path.stat().st_size}


def run_dir(runs: Path, dataset: str, day: str) -> Path:
    return runs / "ingest" / dataset / f"dt={day}"


def write_run(runs: Path, record: dict) -> Path:
    d = run_dir(runs, record["dataset"], record["landing_date"])
    d.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    p = d / f"{record['run_id']}.json"
    p.write_text(text)
    tmp = d / "latest.json.tmp"
    tmp.write_text(text)
    tmp.rename(d / "latest.json")
    return p


def latest(runs: Path, dataset: str, day: str) -> dict | None:
    p = run_dir(runs, dataset, day) / "latest.json"
    return json.loads(p.read_text()) if p.exists() else None
