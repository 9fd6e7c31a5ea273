"""Online/offline skew check: what the online store serves must equal the offline point-in-time value.

For a sample of entities, the online vector is compared, feature by feature and with exact equality
(no tolerance), to ``get_historical_features`` at the materialisation time: the end of the newest
interval Feast recorded for each of the service's views. Both come from the same partition, so any
difference is a bug (a lossy type conversion, a stale or partial write, a wrong view version).
On-demand features are left out: they are the same Python function applied to the same inputs.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from riskpipe.errors import ConfigError
from riskpipe.features.config import DEFAULT_PROJECT
from riskpipe.features.materialize import materialized_until
from riskpipe.features.store import feature_service, get_store, service_views
from riskpipe.features.tables import DATA_FILE, PARTITION_KEY
from riskpipe.settings import Settings, get_settings


@dataclass
class SkewReport:
    service: str
    at: dt.datetime
    entities: int
    features: list[str]
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "at": self.at.isoformat(), "entities": self.entities,
                "features": len(self.features), "mismatches": self.mismatches[:100],
                "mismatch_count": len(self.mismatches), "ok": self.ok}


def _norm(v: Any) -> Any:
    """One comparable form for a value coming from either path (exact, no rounding)."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        t = pd.Timestamp(v)
        return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).value
    if hasattr(v, "item"):  # numpy scalar
        return _norm(v.item())
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)  # int columns come back as float in a frame with nulls
    return v


def _utc(ts) -> dt.datetime:
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.to_pydatetime()


def _default_sample(settings: Settings, views, keys: list[str], day: dt.date, n: int) -> list[dict]:
    for fv, _ in views:
        path = settings.features / fv.name / f"{PARTITION_KEY}={day.isoformat()}" / DATA_FILE
        if path.is_file():
            cols = pd.read_parquet(path).columns
            if all(k in cols for k in keys):
                df = pd.read_parquet(path, columns=keys).drop_duplicates().sort_values(keys).head(n)
                return df.to_dict("records")
    raise ConfigError(f"no partition for {day} holds all of {', '.join(keys)}; pass a sample")


def check_skew(
    service_name: str,
    sample: list[dict[str, Any]] | pd.DataFrame | None = None,
    *,
    settings: Settings | None = None,
    store=None,
    project: str = DEFAULT_PROJECT,
    at: dt.datetime | None = None,
    n: int = 100,
) -> SkewReport:
    """Compare online values with offline point-in-time values for a sample of entities."""
    settings = settings or get_settings()
    store = store or get_store(settings, project=project)
    service = feature_service(store, service_name)
    views, _odfvs = service_views(store, service)
    keys = sorted({k for fv, _ in views for k in fv.join_keys})
    if at is None:
        ends = {fv.name: materialized_until(store, fv.name) for fv, _ in views}
        never = [name for name, end in ends.items() if end is None]
        if never:
            raise ConfigError(f"{service_name}: never materialised: {', '.join(never)} (run riskpipe materialize)")
    else:
        ends = {fv.name: at for fv, _ in views}
    ends = {k: _utc(v) for k, v in ends.items()}
    newest = max(ends.values())
    if sample is None:
        rows = _default_sample(settings, views, keys, newest.date(), n)
    elif isinstance(sample, pd.DataFrame):
        rows = sample[keys].to_dict("records")
    else:
        rows = [{k: r[k] for k in keys} for r in sample]
    if not rows:
        raise ConfigError("empty sample")
    refs = [f"{proj.name_to_use()}:{f.name}" for _fv, proj in views for f in proj.features]
    names = [r.split(":", 1)[1] for r in refs]
    online = pd.DataFrame(store.get_online_features(features=refs, entity_rows=rows).to_dict())
    online = pd.DataFrame(rows).merge(online, on=keys, how="left")
    report = SkewReport(service_name, min(ends.values()), len(rows), names)
    # each view is compared at its own materialisation time (views of a service may be loaded on
    # different days, e.g. one partition validated late)
    for fv, proj in views:
        fv_refs = [f"{proj.name_to_use()}:{f.name}" for f in proj.features]
        fv_names = [f.name for f in proj.features]
        fv_keys = list(fv.join_keys)
        entity_df = pd.DataFrame(rows)[fv_keys].drop_duplicates().reset_index(drop=True)
        entity_df["event_timestamp"] = pd.Timestamp(ends[fv.name])
        offline = store.get_historical_features(entity_df=entity_df, features=fv_refs).to_df()
        merged = online[[*keys, *fv_names]].merge(
            offline.drop(columns=["event_timestamp"]), on=fv_keys, how="left", suffixes=("__online", "__offline"))
        for rec in merged.to_dict("records"):
            for name in fv_names:
                on, off = _norm(rec[f"{name}__online"]), _norm(rec[f"{name}__offline"])
                if on != off or type(on) is not type(off):
                    report.mismatches.append({**{k: rec[k] for k in keys}, "view": fv.name, "feature": name,
                                              "online": rec[f"{name}__online"], "offline": rec[f"{name}__offline"],
                                              "at": ends[fv.name].isoformat()})
    return report
