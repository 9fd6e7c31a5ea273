"""Atomic, idempotent publication of staged partitions, with a crash journal.

A run writes every output partition under ``<lake>/_staging/<dataset>/<run_id>/...`` first. Publication
then writes a journal (``<lake>/_journal/<name>__<run_id>.json``) listing every move and, per
partition, *exchanges* the staged directory with the live one in one system call (Linux
``renameat2(RENAME_EXCHANGE)``): a reader listing the partition sees the old or the new directory,
never none and never a half-written one. The old directory, now at the staged path, goes to
``<lake>/_trash/<name>/<run_id>/...``; finally the trash and the journal are deleted. Where the
exchange is not available (another OS or file system), the live directory is renamed to the trash and
the staged one into place: still never half-written, but a reader can see the partition missing for
the instant between the two renames.

A staged directory carries a marker file (:data:`STAGED_MARKER`) until it is live, so a crash at any
point is unambiguous: the journal is left behind and :func:`recover` (called at the start of every
run) rolls it forward, which is always possible because staging was complete before the journal was
written.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

#: present in a staged partition directory until it is published (removed once it is live)
STAGED_MARKER = ".riskpipe-staged"
#: journals of this format mark their staged directories (older ones did not)
JOURNAL_FORMAT = 2
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _journal(lake: Path, name: str, run_id: str) -> Path:
    return lake / "_journal" / f"{name}__{run_id}.json"


@functools.cache
def _renameat2():  # noqa: ANN202 - a ctypes function or None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the OS or file system cannot (nothing changed)."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _apply(moves: list[dict], marked: bool = True) -> None:
    """Put every staged partition live; idempotent, so it is safe to repeat after a crash at any point.

    ``staged`` still holding the marker: not yet published. ``staged`` without it: the exchange
    happened and it holds the old partition, which only has to go to the trash. (``marked`` False:
    a journal written before markers existed, whose staged directories are all unpublished.)"""
    for m in moves:
        staged, target, trash = Path(m["staged"]), Path(m["target"]), Path(m["trash"])
        if staged.exists() and (not marked or (staged / STAGED_MARKER).exists()):
            target.parent.mkdir(parents=True, exist_ok=True)
            if not (target.exists() and exchange(staged, target)):
                if target.exists():
                    if trash.exists():
                        shutil.rmtree(trash)
                    trash.parent.mkdir(parents=True, exist_ok=True)
                    target.rename(trash)
                staged.rename(target)
        if staged.exists():  # the old partition, exchanged out
            if trash.exists():
                shutil.rmtree(trash)
            trash.parent.mkdir(parents=True, exist_ok=True)
            staged.rename(trash)
        (target / STAGED_MARKER).unlink(missing_ok=True)
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
    for st, _ in moves:
        (Path(st) / STAGED_MARKER).touch()
    journal = _journal(lake, name, run_id)
    journal.parent.mkdir(parents=True, exist_ok=True)
    tmp = journal.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "run_id": run_id, "format": JOURNAL_FORMAT, "moves": entries}, indent=2))
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
        _apply(data["moves"], marked=data.get("format") == JOURNAL_FORMAT)
        shutil.rmtree(lake / "_trash" / name / data["run_id"], ignore_errors=True)
        j.unlink()
        done.append(j.name)
    return done
