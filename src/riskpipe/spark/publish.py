"""Atomic, idempotent publication of staged partitions, with a crash journal.

A run writes every output partition under ``<lake>/_staging/<dataset>/<run_id>/...`` first. Publication
then writes a journal (``<lake>/_journal/<name>__<run_id>.json``) listing every move, and for each
partition renames the live directory to ``<lake>/_trash/<name>/<run_id>/...``, renames the staged one into
place, and finally deletes the trash and the journal. A rename within one file system is atomic, so a
reader sees the old or the new partition, never a half-written one. A crash between two renames leaves
the journal behind: :func:`recover` (called at the start of every run) rolls it forward, which is always
possible because staging was complete before the journal was written.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def _journal(lake: Path, name: str, run_id: str) -> Path:
    return lake / "_journal" / f"{name}__{run_id}.json"


def _apply(moves: list[dict]) -> None:
    """Swap every partition; idempotent, so it is safe to repeat after a crash at any point."""
    for m in moves:
        staged, target, trash = Path(m["staged"]), Path(m["target"]), Path(m["trash"])
        if not staged.exists():
            continue  # already moved into place
        if target.exists():
            if trash.exists():
                shutil.rmtree(trash)
            trash.parent.mkdir(parents=True, exist_ok=True)
            target.rename(trash)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)
        _crash_test_pause(target)


def _crash_test_pause(target: Path) -> None:
    """``RISKPIPE_TEST_PAUSE_AT=mid_swap``: stop after the first partition moved (crash tests only)."""
    import os
    import time

    if os.environ.get("RISKPIPE_TEST_PAUSE_AT") != "mid_swap" or "silver" not in target.parts:
        return
    lake = target.parents[2]
    (lake / "_paused-mid_swap").write_text(str(os.getpid()))
    time.sleep(600)


def swap_in(lake: Path, name: str, moves: list[tuple[Path, Path]], run_id: str) -> None:
    """Replace each ``target`` directory by its complete ``staged`` directory (journaled)."""
    entries = [{"staged": str(st), "target": str(tg),
                "trash": str(lake / "_trash" / name / run_id / tg.parent.name / tg.name)} for st, tg in moves]
    journal = _journal(lake, name, run_id)
    journal.parent.mkdir(parents=True, exist_ok=True)
    tmp = journal.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "run_id": run_id, "moves": entries}, indent=2))
    tmp.rename(journal)
    _apply(entries)
    shutil.rmtree(lake / "_trash" / name / run_id, ignore_errors=True)
    journal.unlink()


def recover(lake: Path, name: str) -> list[str]:
    """Roll forward every publication of ``name`` a crash interrupted; returns the journals repaired."""
    root = lake / "_journal"
    done: list[str] = []
    if not root.exists():
        return done
    for t in root.glob(f"{name}__*.tmp"):
        t.unlink()  # the journal never completed: nothing had been moved yet
    for j in sorted(root.glob(f"{name}__*.json")):
        data = json.loads(j.read_text())
        log.warning("repairing publication interrupted by a crash: %s", j.name)
        _apply(data["moves"])
        shutil.rmtree(lake / "_trash" / name / data["run_id"], ignore_errors=True)
        j.unlink()
        done.append(j.name)
    return done
