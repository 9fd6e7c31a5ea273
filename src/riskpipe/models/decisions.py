"""The decision log: every online score, as served, to partitioned Parquet; replay of any decision.

A decision record holds what is needed to explain and reproduce a score months later: the request,
the feature values the model saw (online values + request fields, as JSON), the model name, version
and run, the feature service, score, probability, band, reason codes and latency. The champion's
decision is returned to the caller; the challenger's (``role = shadow``) is scored on the same
features after the answer, logged with ``shadow_of`` = the champion decision id, and never returned.

Writing never sits on the request path, nor in the serving process: :meth:`DecisionLog.append` puts
the record in a buffer, and every ``flush_seconds`` or ``flush_rows`` a background thread hands the
buffer to a writer process, which writes a file per (model, day)
(``<decision_dir>/model=<name>/dt=YYYY-MM-DD/part-<time>-<uuid>.parquet``, written to a temporary name
and renamed, so readers never see half a file). A full buffer (the disk cannot keep up) drops the
oldest undelivered records *and counts them* (``dropped``, in ``/ready`` and the log) rather than
blocking scoring. :func:`replay` re-scores one decision with the recorded model version and features.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import pickle
import struct
import subprocess
import sys
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskpipe.errors import RiskpipeError

if TYPE_CHECKING:
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

#: column order of a decision file (all partitions share it)
COLUMNS = ("decision_id", "decided_at", "role", "shadow_of", "endpoint", "model_name", "model_version",
           "model_run_id", "feature_service", "request_id", "request", "features", "features_missing",
           "probability", "score", "band", "reason_codes", "latency_ms")


class DecisionNotFound(RiskpipeError):
    """No logged decision has that id."""


def new_decision_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDD-<32 hex>``: unique, and the date says which partition holds it."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d}-{uuid.uuid4().hex}"


def _json_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if hasattr(v, "item"):  # numpy scalar
        return _json_value(v.item())
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, float | int | str | bool):
        return v
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def to_json(obj: dict[str, Any]) -> str:
    """Deterministic JSON of a flat mapping (NaN and missing as null)."""
    return json.dumps({k: _json_value(v) for k, v in obj.items()}, sort_keys=True, separators=(",", ":"))


def _schema():  # noqa: ANN202
    import pyarrow as pa

    return pa.schema([
        ("decision_id", pa.string()), ("decided_at", pa.timestamp("us", tz="UTC")), ("role", pa.string()),
        ("shadow_of", pa.string()), ("endpoint", pa.string()), ("model_name", pa.string()),
        ("model_version", pa.string()), ("model_run_id", pa.string()), ("feature_service", pa.string()),
        ("request_id", pa.string()), ("request", pa.string()), ("features", pa.string()),
        ("features_missing", pa.list_(pa.string())), ("probability", pa.float64()), ("score", pa.float64()),
        ("band", pa.string()), ("reason_codes", pa.list_(pa.string())), ("latency_ms", pa.float64()),
    ])


def _micros(t: dt.datetime | None) -> int | None:
    """Microseconds since the epoch (a naive time is UTC, as Arrow would read it)."""
    if t is None:
        return None
    return ((t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)) - _EPOCH) // _MICROSECOND


class DecisionWriteError(RiskpipeError):
    """The writer process could not write a batch (its reason), or is gone."""


#: columns a record may give as a flat mapping instead of JSON text: the writer process stores
#: :func:`to_json` of it, so the request thread does not pay for the encoding (~30 us for 48 features)
JSON_COLUMNS = frozenset({"request", "features"})

#: the writer process's niceness where SCHED_IDLE is not available (non-Linux Unix)
WRITER_NICE = 19
#: the pipe to the writer (Linux, at most /proc/sys/fs/pipe-max-size): a flush is one write, not one
#: GIL round trip of the flushing thread per 64 KiB (a second of decisions is ~0.5 MB at 400 req/s)
PIPE_BYTES = 1 << 20

#: a batch on the writer's stdin: (records, bytes), then each record as (bytes, pickled tuple in COLUMNS order)
_FRAME = struct.Struct("!II")
_LEN = struct.Struct("!I")


def _record(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(c) for c in COLUMNS)


def _encode(record: dict[str, Any]) -> bytes:
    data = pickle.dumps(_record(record), protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


def _decode(body: bytes, n: int) -> list[tuple[Any, ...]]:
    """The records of a batch, each a tuple in COLUMNS order."""
    view, off, rows = memoryview(body), 0, []
    for _ in range(n):
        (size,) = _LEN.unpack_from(view, off)
        off += _LEN.size
        rows.append(pickle.loads(view[off:off + size]))
        off += size
    return rows


class DecisionLog:
    """Buffered decision records, written to Parquet by a child process (thread-safe, never blocks a request).

    The request thread only pickles its record into a buffer (~5 us). Building Arrow tables and
    Parquet files is CPU work that held the serving process's GIL for ~10 ms a second: the requests
    that arrived meanwhile waited for it (convoy effect: every I/O wake-up waits a switch interval),
    which was most of the log's cost at p99. So the work runs in a writer process
    (:func:`_writer_main`): a background thread hands it each batch over a pipe and waits for its
    answer. A batch is all or nothing: on failure (its reason is kept in ``last_error``) or a dead
    writer (restarted at the next flush), the records stay buffered for the next attempt.
    """

    def __init__(self, root: Path, *, flush_seconds: float = 1.0, flush_rows: int = 2000,
                 max_buffered: int = 200_000) -> None:
        self.root = Path(root)
        self.flush_seconds, self.flush_rows = flush_seconds, flush_rows
        self._buf: deque[bytes] = deque(maxlen=max_buffered)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._writer: subprocess.Popen[bytes] | None = None
        self.written = 0
        self.dropped = 0
        self.files = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="riskpipe-decision-log", daemon=True)
        self._thread.start()

    def append(self, record: dict[str, Any]) -> None:
        data = _encode(record)
        with self._lock:
            if len(self._buf) == self._buf.maxlen:
                self.dropped += 1  # the deque drops the oldest record: count it
            self._buf.append(data)
            n = len(self._buf)
        if n >= self.flush_rows:
            self._wake.set()

    def _run(self) -> None:
        try:  # start the writer (and its Arrow warm-up) now, not at the first flush
            with self._flush_lock:
                self._start_writer()
        except Exception as err:  # the first flush retries and reports it
            log.warning("decision log: writer process did not start: %s", err)
        try:
            while not self._stop.is_set():
                self._wake.wait(self.flush_seconds)
                self._wake.clear()
                self.flush()
            self.flush()
        finally:
            with self._flush_lock:
                self._stop_writer()

    def _start_writer(self) -> subprocess.Popen[bytes]:
        if self._writer is not None and self._writer.poll() is None:
            return self._writer
        import riskpipe

        env = dict(os.environ)
        src = str(Path(riskpipe.__file__).resolve().parents[1])  # the same riskpipe as this process
        env["PYTHONPATH"] = os.pathsep.join([src, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else src
        proc = subprocess.Popen(
            [sys.executable, "-c", "from riskpipe.models.decisions import _writer_main; _writer_main()",
             str(self.root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or a lower pipe-max-size: 64 KiB
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        if proc.stdout.readline() != b"ready\n":
            proc.kill()
            proc.wait()
            raise DecisionWriteError(f"the decision writer process did not start (exit code {proc.returncode})")
        self._writer = proc
        return proc

    def _stop_writer(self) -> None:
        proc, self._writer = self._writer, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # end of input: the writer exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _send(self, batch: list[bytes]) -> int:
        """Have the writer write ``batch``; the number of files, or DecisionWriteError."""
        proc = self._start_writer()
        body = b"".join(batch)
        try:
            proc.stdin.write(_FRAME.pack(len(batch), len(body)))
            proc.stdin.write(body)
            proc.stdin.flush()
            reply = proc.stdout.readline()
        except OSError:
            reply = b""
        if not reply:
            self._stop_writer()
            raise DecisionWriteError(f"the decision writer process exited (exit code {proc.returncode})")
        answer = json.loads(reply)
        if "error" in answer:
            raise DecisionWriteError(answer["error"])
        return int(answer["files"])

    def flush(self) -> int:
        """Write what is buffered now (one file per model and day); returns the records written."""
        with self._flush_lock:
            with self._lock:
                batch = list(self._buf)
                self._buf.clear()
            if not batch:
                return 0
            try:
                files = self._send(batch)
            except Exception as err:  # keep the records for the next attempt, say why
                self.last_error = str(err) if isinstance(err, DecisionWriteError) else f"{type(err).__name__}: {err}"
                log.error("decision log: cannot write %d records to %s: %s", len(batch), self.root, self.last_error)
                with self._lock:
                    room = self._buf.maxlen - len(self._buf)
                    keep = batch[-room:] if room > 0 else []
                    self.dropped += len(batch) - len(keep)
                    self._buf.extendleft(reversed(keep))
                return 0
            self.written += len(batch)
            self.files += files
            self.last_error = None
            return len(batch)

    def close(self, timeout: float = 60.0) -> None:
        """Stop after a last flush (idempotent). A writer stuck for ``timeout`` s (a hung disk) is killed:
        what it held is reported as not written rather than holding up the shutdown."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        if self._thread.is_alive() and (proc := self._writer) is not None:
            log.error("decision log: the writer did not finish within %.0f s; killed it (%d more records buffered)",
                      timeout, len(self._buf))
            proc.kill()
            self._thread.join(timeout=10)

    def status(self) -> dict[str, Any]:
        with self._lock:
            buffered = len(self._buf)
        proc = self._writer
        return {"dir": str(self.root), "written": self.written, "buffered": buffered, "dropped": self.dropped,
                "files": self.files, "last_error": self.last_error,
                "writer_pid": proc.pid if proc is not None and proc.poll() is None else None}


# ---- the writer process ---------------------------------------------------------------------------
def _table(rows: list[tuple[Any, ...]]):  # noqa: ANN202
    """Records (tuples in COLUMNS order) as one Arrow table, built column by column (timestamps as
    integer microseconds)."""
    import pyarrow as pa

    schema = _schema()
    arrays = []
    for f, values in zip(schema, zip(*rows, strict=True), strict=True):
        if f.name == "decided_at":
            arrays.append(pa.array([_micros(v) for v in values], type=pa.int64()).cast(f.type))
        elif f.name in JSON_COLUMNS:
            arrays.append(pa.array([v if v is None or isinstance(v, str) else to_json(v) for v in values],
                                   type=f.type))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_batch(root: Path, rows: list[tuple[Any, ...]]) -> int:
    """One Parquet file per (model, day) of ``rows`` (tuples in COLUMNS order), all or none: each is
    written under a temporary name and renamed only once every file of the batch is written. Returns the
    number of files."""
    import pyarrow.parquet as pq

    model_at, time_at = COLUMNS.index("model_name"), COLUMNS.index("decided_at")
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for r in rows:
        groups.setdefault((r[model_at], r[time_at].strftime("%Y-%m-%d")), []).append(r)
    staged: list[tuple[Path, Path]] = []
    try:
        for (model, day), part in groups.items():
            folder = Path(root) / f"model={model}" / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{dt.datetime.now(dt.UTC):%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
            staged.append((folder / f".{name}.tmp", folder / name))
            pq.write_table(_table(part), staged[-1][0])
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return len(staged)


def _run_in_background() -> None:
    """Background work: the CPU goes to serving first (the writer's share is ~0.2%). On Linux the
    writer is SCHED_IDLE: it runs only on a CPU nothing else wants, and a waking server thread (or
    Redis, or the client) preempts it at once, where niceness 19 still takes a time slice from them."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.nice(WRITER_NICE)


def _writer_main() -> None:
    """The decision writer process: batches on stdin, Parquet under ``argv[1]``, one JSON answer line per
    batch on stdout. It ends at the end of its input (the server closed it, or is gone), so it ignores
    the Ctrl-C / SIGTERM sent to the whole process group: the server's last flush must still be written."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    _run_in_background()  # before the imports: the threads Arrow starts inherit the scheduling policy
    import pyarrow.parquet  # noqa: F401  (the imports and Arrow's first conversion: before "ready")

    root = Path(sys.argv[1])
    _table([_record({"decided_at": dt.datetime.now(dt.UTC), "features_missing": [], "probability": 0.0})])
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    while True:
        head = inp.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return
        n, size = _FRAME.unpack(head)
        body = inp.read(size)
        if len(body) < size:  # the server died part-way through sending: nothing of it was promised
            return
        try:
            answer = {"files": write_batch(root, _decode(body, n))}
        except Exception as err:  # noqa: BLE001 - the server keeps the batch and reports this
            answer = {"error": f"{type(err).__name__}: {err}"}
        try:
            out.write(json.dumps(answer).encode() + b"\n")
            out.flush()
        except BrokenPipeError:
            return


# ---- reading and replay ---------------------------------------------------------------------------
def read_decisions(root: Path, *, model: str | None = None, day: dt.date | None = None,
                   decision_id: str | None = None, decision_ids: Iterable[str] | None = None,
                   columns: list[str] | None = None):  # noqa: ANN201 (pandas.DataFrame)
    """Logged decisions as a DataFrame (optionally one model, one day, one id or a set of ids, and only
    ``columns``). Ids name their day (:func:`new_decision_id`), so a set of ids reads only those days."""
    import pyarrow.dataset as ds

    root = Path(root)
    if not root.is_dir():
        import pandas as pd

        return pd.DataFrame(columns=columns or list(COLUMNS))
    dataset = ds.dataset(str(root), format="parquet", partitioning="hive", schema=None,
                         exclude_invalid_files=True, ignore_prefixes=[".", "_"])
    flt = None
    for col, val in (("model", model), ("dt", day.isoformat() if day else None), ("decision_id", decision_id)):
        if val is None:
            continue
        expr = ds.field(col).cast("string") == val
        flt = expr if flt is None else flt & expr
    if decision_ids is not None:
        ids = sorted(set(map(str, decision_ids)))
        days = sorted({f"{i[:4]}-{i[4:6]}-{i[6:8]}" for i in ids})
        expr = ds.field("dt").cast("string").isin(days) & ds.field("decision_id").isin(ids)
        flt = expr if flt is None else flt & expr
    return dataset.to_table(filter=flt, columns=columns).to_pandas()


@dataclasses.dataclass
class ReplayResult:
    decision_id: str
    model_name: str
    model_version: str
    identical: bool
    recorded: dict[str, Any]
    replayed: dict[str, Any]
    differences: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def find_decision(decision_id: str, root: Path) -> dict[str, Any]:
    day = None
    head = decision_id.split("-", 1)[0]
    if len(head) == 8 and head.isdigit():
        try:
            day = dt.datetime.strptime(head, "%Y%m%d").date()
        except ValueError:
            day = None
    df = read_decisions(root, day=day, decision_id=decision_id)
    if df.empty:
        raise DecisionNotFound(f"no decision {decision_id!r} under {root}"
                               + (f" (looked in dt={day})" if day else ""))
    return df.iloc[0].to_dict()


def replay(decision_id: str, settings: Settings | None = None, *, root: Path | None = None) -> ReplayResult:
    """Re-score a logged decision with the recorded model version and feature values."""
    import mlflow.pyfunc

    from riskpipe.models.explain import feature_values, resolve_estimator, score_values
    from riskpipe.models.registry import configure_mlflow
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    rec = find_decision(decision_id, root or s.decisions)
    configure_mlflow(s)
    est = resolve_estimator(mlflow.pyfunc.load_model(f"models:/{rec['model_name']}/{rec['model_version']}"))
    feats = list(est.features)
    values = json.loads(rec["features"])
    # the serving path's own scoring (riskpipe.models.serve.Scorer.score): a missing value is None -> NaN
    out = score_values(est, feature_values([{f: values.get(f) for f in feats}], feats))[0]
    recorded = {"probability": float(rec["probability"]), "score": float(rec["score"]), "band": rec["band"],
                "reason_codes": list(rec["reason_codes"])}
    replayed = {"probability": out.probability, "score": out.score, "band": out.band,
                "reason_codes": list(out.reason_codes)}
    diffs = [f"{k}: recorded {recorded[k]!r}, replayed {replayed[k]!r}" for k in recorded if recorded[k] != replayed[k]]
    return ReplayResult(decision_id, rec["model_name"], str(rec["model_version"]), not diffs, recorded, replayed, diffs)
