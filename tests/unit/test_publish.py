"""Publication of staged partitions: an atomic exchange with the live directory, and a crash at any
point rolled forward by the journal, never back (riskpipe.spark.publish; plain files, no Spark)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from riskpipe.spark import publish


def _part(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "part-00000.parquet").write_text(text)
    return path


def _content(path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in path.iterdir()}


def test_exchange_swaps_two_directories_in_one_call(tmp_path: Path) -> None:
    a, b = _part(tmp_path / "a", "new"), _part(tmp_path / "b", "old")
    ino_a, ino_b = os.stat(a).st_ino, os.stat(b).st_ino
    assert publish.exchange(a, b), "renameat2(RENAME_EXCHANGE) is available on this Linux file system"
    assert (_content(a), _content(b)) == ({"part-00000.parquet": "old"}, {"part-00000.parquet": "new"})
    assert (os.stat(a).st_ino, os.stat(b).st_ino) == (ino_b, ino_a)  # the directories moved, nothing copied
    with pytest.raises(FileNotFoundError):
        publish.exchange(tmp_path / "absent", b)


def test_swap_in_replaces_and_creates_partitions(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    live = _part(lake / "silver" / "t" / "dt=2026-01-01", "old")
    staged = [_part(lake / "_staging" / "t" / "r1" / "dt=2026-01-01", "new1"),
              _part(lake / "_staging" / "t" / "r1" / "dt=2026-01-02", "new2")]
    new_live = lake / "silver" / "t" / "dt=2026-01-02"
    publish.swap_in(lake, "t", [(staged[0], live), (staged[1], new_live)], "r1")
    assert _content(live) == {"part-00000.parquet": "new1"} and _content(new_live) == {"part-00000.parquet": "new2"}
    assert not any(s.exists() for s in staged)
    assert not (lake / "_trash" / "t" / "r1").exists() and not list((lake / "_journal").iterdir())


@pytest.mark.parametrize("crash", ["before the exchange", "after the exchange", "after the old one left"])
def test_recover_rolls_a_crashed_publication_forward(tmp_path: Path, crash: str) -> None:
    """Whatever step a crash interrupted, recovery ends with the new partition live: the exchanged-out
    old directory (no marker) is never swapped back in."""
    lake = tmp_path / "lake"
    live = _part(lake / "silver" / "t" / "dt=2026-01-01", "old")
    staged = _part(lake / "_staging" / "t" / "r1" / "dt=2026-01-01", "new")
    trash = lake / "_trash" / "t" / "r1" / live.parent.name / live.name
    (staged / publish.STAGED_MARKER).touch()
    moves = [{"staged": str(staged), "target": str(live), "trash": str(trash)}]
    journal = lake / "_journal" / "t__r1.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"name": "t", "run_id": "r1", "format": publish.JOURNAL_FORMAT, "moves": moves}))
    if crash != "before the exchange":
        assert publish.exchange(staged, live)
    if crash == "after the old one left":
        trash.parent.mkdir(parents=True)
        staged.rename(trash)
    assert publish.recover(lake, "t") == ["t__r1.json"]
    assert _content(live) == {"part-00000.parquet": "new"}  # the marker is gone too
    assert not staged.exists() and not journal.exists() and not (lake / "_trash" / "t" / "r1").exists()
    assert publish.recover(lake, "t") == []


def test_a_journal_from_before_markers_is_still_rolled_forward(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    live = _part(lake / "silver" / "t" / "dt=2026-01-01", "old")
    staged = _part(lake / "_staging" / "t" / "r0" / "dt=2026-01-01", "new")  # no marker
    trash = lake / "_trash" / "t" / "r0" / live.parent.name / live.name
    journal = lake / "_journal" / "t__r0.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"name": "t", "run_id": "r0", "moves": [
        {"staged": str(staged), "target": str(live), "trash": str(trash)}]}))
    publish.recover(lake, "t")
    assert _content(live) == {"part-00000.parquet": "new"}
