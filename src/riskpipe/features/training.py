"""Point-in-time-correct training sets, built only through Feast's ``get_historical_features``.

A training set = an entity frame (keys + event time, usually a label table) joined by Feast to the
feature values a model would have seen at that time: for each row the newest feature row with
``feature_ts <= event time`` (and within the view's TTL), ties broken by ``created_ts``. Because a
daily row stamped T uses only events strictly before T (the dbt contract), nothing from the event
time onwards leaks in. Labels ride along as columns of the entity frame.

Each call records a JSON manifest: the feature service and its features, the data snapshot (every
feature partition that could contribute, with size and SHA-256), and row counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskpipe.errors import ConfigError
from riskpipe.features.config import DEFAULT_PROJECT
from riskpipe.features.requests import logged_request_fields, with_request_fields
from riskpipe.features.store import feature_service, get_store, request_fields, service_views
from riskpipe.features.tables import DATA_FILE, LABEL_TABLES, PARTITION_KEY, TIMESTAMP_FIELD
from riskpipe.models.labels import EXCLUDED_STATUSES
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

EVENT_TS = "event_timestamp"  # the column name Feast looks for in an entity frame
ROW_NO = "__riskpipe_row"
#: Request fields that are the event time itself, so they can be derived from the entity frame.
DERIVED_REQUEST_FIELDS = {"request_epoch_s"}


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    manifest: dict[str, Any]
    manifest_path: Path | None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(root: Path) -> pd.DataFrame:
    """Read every ``dt=*/data.parquet`` partition of a table (without the ``dt`` column)."""
    files = sorted(Path(root).glob(f"{PARTITION_KEY}=*/{DATA_FILE}"))
    if not files:
        raise ConfigError(f"no partitions under {root} (expected {PARTITION_KEY}=YYYY-MM-DD/{DATA_FILE})")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def load_entities(entities: pd.DataFrame | str | Path, settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The entity frame and a description of where it came from (for the manifest)."""
    if isinstance(entities, pd.DataFrame):
        return entities.copy(), {"kind": "dataframe", "rows": len(entities)}
    name = str(entities)
    if name in LABEL_TABLES:
        root = settings.features / name
        files = sorted(root.glob(f"{PARTITION_KEY}=*/{DATA_FILE}"))
        df = read_table(root)
        # indeterminate and unresolved rows (label null) are never trained on
        status = df["label_status"] if "label_status" in df else pd.Series(None, df.index, dtype=object)
        df = df[~status.isin(EXCLUDED_STATUSES)].reset_index(drop=True)
        return df, {"kind": "label_table", "name": name, "path": str(root),
                    **{f"excluded_{x}": int((status == x).sum()) for x in EXCLUDED_STATUSES},
                    "files": [{"file": str(f.relative_to(root)), "bytes": f.stat().st_size, "sha256": _sha256(f)}
                              for f in files]}
    path = Path(name)
    if not path.exists():
        raise ConfigError(f"entities {name!r} is neither a label table ({', '.join(LABEL_TABLES)}) nor a file")
    if path.suffix == ".csv":
        df = pd.read_csv(path)
    elif path.is_dir():
        df = read_table(path)
    else:
        df = pd.read_parquet(path)
    meta: dict[str, Any] = {"kind": "file", "path": str(path.resolve())}
    if path.is_file():
        meta["sha256"] = _sha256(path)
    return df, meta


def _utc(ts) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _event_column(df: pd.DataFrame) -> str:
    for col in (EVENT_TS, TIMESTAMP_FIELD):
        if col in df.columns:
            return col
    raise ConfigError(f"the entity frame needs an event time column ({EVENT_TS} or {TIMESTAMP_FIELD}); "
                      f"it has {', '.join(map(str, df.columns))}")


def _snapshot(source_path: Path, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Feature partitions whose date could be joined to an entity time in [first, last]."""
    out = []
    for f in sorted(Path(source_path).glob(f"{PARTITION_KEY}=*/{DATA_FILE}")):
        try:
            day = dt.date.fromisoformat(f.parent.name.split("=", 1)[1])
        except ValueError:
            continue
        if first <= day <= last:
            out.append({"partition": f.parent.name, "bytes": f.stat().st_size, "sha256": _sha256(f)})
    return out


def training_set(service_name: str, entities: pd.DataFrame | str | Path, **kwargs: Any) -> pd.DataFrame:
    """The training set as a DataFrame; its manifest is in ``.attrs["manifest"]`` (and on disk,
    path in ``.attrs["manifest_path"]``). Arguments as :func:`build_training_set`."""
    ts = build_training_set(service_name, entities, **kwargs)
    ts.frame.attrs["manifest"] = ts.manifest
    ts.frame.attrs["manifest_path"] = str(ts.manifest_path)
    return ts.frame


def build_training_set(
    service_name: str,
    entities: pd.DataFrame | str | Path,
    *,
    settings: Settings | None = None,
    store=None,
    project: str = DEFAULT_PROJECT,
    labels_known_by: dt.datetime | None = None,
    out: Path | None = None,
    manifest_path: Path | None = None,
    label_definition: dict[str, Any] | None = None,
    request_known_by: dt.datetime | None = None,
    logged_requests: bool = False,
) -> TrainingSet:
    """Build the training set of ``service_name`` for ``entities`` (a frame, a file or a label table).

    Rows come back in the entity frame's order, one per entity row, with every entity column
    (labels included) followed by the service's features.

    ``labels_known_by`` keeps only rows whose ``label_known_at`` is at or before it (a label still in
    its observation window at training time is not a label yet). The manifest is always written: to
    ``manifest_path``, else next to ``out`` (``<out stem>.manifest.json``), else to
    ``<lake>/_runs/training_sets/<service>-<digest>.json``. ``label_definition`` (the label's
    name, version, content hash and rows used, from :mod:`riskpipe.models.labels`) is recorded in it as
    given, so a training set says which definition its labels follow. Request fields the frame lacks and
    :mod:`riskpipe.features.requests` rebuilds from the lake (the bureau pull) use what the lake held by
    ``request_known_by`` (default ``labels_known_by``; neither: everything it holds). With
    ``logged_requests`` (rows of served decisions: a ``decision_id`` column), they are the fields as each
    decision logged them, rebuilt only for a decision that did not carry them
    (:func:`riskpipe.features.requests.logged_request_fields`; the manifest's ``request_rows_logged``).
    """
    settings = settings or get_settings()
    store = store or get_store(settings, project=project)
    service = feature_service(store, service_name)
    df, entity_meta = load_entities(entities, settings)
    rows_in = len(df)
    ev = _event_column(df)
    if ev != EVENT_TS:
        if EVENT_TS in df.columns:
            raise ConfigError(f"entity frame has both {ev} and {EVENT_TS}")
        df = df.rename(columns={ev: EVENT_TS})
    df[EVENT_TS] = pd.to_datetime(df[EVENT_TS], utc=True)
    if df[EVENT_TS].isna().any():
        raise ConfigError(f"{int(df[EVENT_TS].isna().sum())} entity rows have no event time ({ev})")
    if labels_known_by is not None:
        if "label_known_at" not in df.columns:
            raise ConfigError("labels_known_by needs a label_known_at column in the entity frame")
        known = pd.to_datetime(df["label_known_at"], utc=True) <= _utc(labels_known_by)
        df = df[known].reset_index(drop=True)

    views, odfvs = service_views(store, service)
    join_keys = sorted({k for fv, _ in views for k in fv.join_keys})
    missing_keys = [k for k in join_keys if k not in df.columns]
    if missing_keys:
        raise ConfigError(f"feature service {service_name} joins on {', '.join(join_keys)}; "
                          f"the entity frame lacks {', '.join(missing_keys)}")
    req_fields = request_fields(odfv for odfv, _ in odfvs)
    for derived in DERIVED_REQUEST_FIELDS & set(req_fields) - set(df.columns):
        df[derived] = ((df[EVENT_TS] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")
    # fields the lender fetched at decision time (the bureau pull): rebuilt from the lake when absent
    known_by = request_known_by or labels_known_by
    if logged_requests:
        if "decision_id" not in df.columns:
            raise ConfigError("logged_requests needs a decision_id column in the entity frame")
        df = logged_request_fields(df, (odfv for odfv, _ in odfvs), settings.decisions)
    df, rebuilt, logged = with_request_fields(df, (odfv for odfv, _ in odfvs), settings, EVENT_TS, known_by)
    missing_req = [f for f in req_fields if f not in df.columns]
    if missing_req:
        raise ConfigError(f"feature service {service_name} has request-time features that need the entity "
                          f"columns {', '.join(missing_req)}; add them to the entity frame/label table")

    if df.empty:
        raise ConfigError(f"no entity rows left for {service_name} (rows in: {rows_in})")
    log.info("training set %s: %d entity rows", service_name, len(df))
    df[ROW_NO] = range(len(df))  # Feast does not keep the entity order; this restores it
    job = store.get_historical_features(entity_df=df, features=service)
    result = job.to_df()
    result = result.sort_values(ROW_NO, kind="mergesort").drop(columns=[ROW_NO]).reset_index(drop=True)
    result = result[[c for c in result.columns if c != "entity_row_id"]]
    result[EVENT_TS] = pd.to_datetime(result[EVENT_TS], utc=True)
    df = df.drop(columns=[ROW_NO])
    if ev != EVENT_TS:
        result = result.rename(columns={EVENT_TS: ev})
    if len(result) != len(df):
        raise ConfigError(f"point-in-time join returned {len(result)} rows for {len(df)} entity rows")

    first = df[EVENT_TS].min()
    last = df[EVENT_TS].max()
    snapshot = {}
    for fv, _proj in views:
        path = Path(getattr(fv.batch_source, "path", "") or "")
        start = (first - (fv.ttl or dt.timedelta(0))).date()
        snapshot[fv.name] = {"path": str(path), "partitions": _snapshot(path, start, last.date())}
    features = [f"{proj.name_to_use()}:{f.name}" for proj in service.feature_view_projections
                for f in proj.features]
    feature_cols = [f.name for p in service.feature_view_projections for f in p.features]
    manifest: dict[str, Any] = {
        "feature_service": service_name,
        "project": store.project,
        "offline_store": settings.offline_store.value,
        "features": features,
        "request_fields": req_fields,
        "request_sources_rebuilt": rebuilt,
        "request_known_by": known_by.isoformat() if rebuilt and known_by else None,
        "request_rows_logged": logged if logged_requests else None,
        "entities": entity_meta,
        "event_time": {"column": ev, "min": first.isoformat(), "max": last.isoformat()},
        "labels_known_by": labels_known_by.isoformat() if labels_known_by else None,
        "label_definition": label_definition,
        "data_snapshot": snapshot,
        "row_counts": {
            "entity_rows_in": rows_in,
            "entity_rows_used": len(df),
            "rows_out": len(result),
            "rows_with_all_features_null": int(result[feature_cols].isna().all(axis=1).sum()) if feature_cols else 0,
            **({"label_positive": int(result["label"].fillna(0).astype(int).sum())} if "label" in result else {}),
        },
    }
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        result.to_parquet(tmp, index=False)
        tmp.replace(out)
        manifest["output"] = {"path": str(out.resolve()), "sha256": _sha256(out)}
        manifest_path = manifest_path or out.with_name(out.stem + ".manifest.json")
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    if manifest_path is None:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        manifest_path = settings.runs / "training_sets" / f"{service_name}-{digest}.json"
    manifest_path = Path(manifest_path)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(text)
    return TrainingSet(result, manifest, manifest_path)
