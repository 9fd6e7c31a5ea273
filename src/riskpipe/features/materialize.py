"""Load one validated feature date into the online store: incremental, idempotent, gated.

``materialize(D)`` reads, for each feature view, only partition ``dt=D`` (Feast interval
``[D 00:00, D+1 00:00)``), so a daily run costs one day of data. It is gated on validation: a view's
partition is loaded only if it is validated. By default "validated" means the marker file
``<features>/<table>/dt=D/_VALIDATED`` exists (the validation step writes it after the suite passes);
a caller may pass ``is_validated(table, date) -> bool`` instead (the marker is then not consulted).

Idempotent: rerunning D writes the same values again. A date older than the newest date already
materialised for a view is skipped as *superseded* (the online store serves the newest values;
writing an older day would roll it back). Feast records the interval in its registry only after the
view's write succeeded, so a failure (say Redis down) leaves D unrecorded and a rerun repeats it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from riskpipe.features.config import DEFAULT_PROJECT
from riskpipe.features.store import FeatureStoreError, get_store
from riskpipe.features.tables import DATA_FILE, PARTITION_KEY, VALIDATED_MARKER
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

IsValidated = Callable[[str, dt.date], bool]


@dataclass
class MaterializeResult:
    date: dt.date
    materialized: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"date": self.date.isoformat(), "materialized": self.materialized,
                "skipped": self.skipped, "rows": self.rows}


def marker_validated(features_root: Path) -> IsValidated:
    """The default gate: ``<features>/<table>/dt=D/_VALIDATED`` exists."""

    def check(table: str, day: dt.date) -> bool:
        return (Path(features_root) / table / f"{PARTITION_KEY}={day.isoformat()}" / VALIDATED_MARKER).is_file()

    return check


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Feast's inclusive interval covering exactly the rows stamped on ``day``."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)


def materialized_until(store, view_name: str) -> dt.datetime | None:
    """End of the newest interval Feast recorded for the view (None if never materialised)."""
    fv = store.registry.get_feature_view(view_name, store.project, allow_cache=False)
    ends = [end for _start, end in fv.materialization_intervals]
    return max(ends) if ends else None


def _table_of(fv) -> str:
    return Path(str(getattr(fv.batch_source, "path", fv.name))).name


def describe_online_failure(store, err: BaseException) -> str:
    online = store.config.online_store
    where = getattr(online, "connection_string", None) or getattr(online, "path", "")
    where = where.split(",")[0] if where else ""
    return f"{online.type} online store {where} failed: {type(err).__name__}: {err}"


def materialize(
    day: dt.date,
    *,
    settings: Settings | None = None,
    store=None,
    project: str = DEFAULT_PROJECT,
    is_validated: IsValidated | None = None,
    views: list[str] | None = None,
    on_view: Callable[[str], None] | None = None,
) -> MaterializeResult:
    """Materialise the validated partitions of ``day`` into the online store."""
    settings = settings or get_settings()
    store = store or get_store(settings, project=project)
    gate = is_validated or marker_validated(settings.features)
    start, end = day_window(day)
    result = MaterializeResult(day)
    fvs = sorted(store.list_feature_views(), key=lambda v: v.name)
    if views:
        unknown = set(views) - {fv.name for fv in fvs}
        if unknown:
            raise FeatureStoreError(f"unknown feature views: {', '.join(sorted(unknown))}")
        fvs = [fv for fv in fvs if fv.name in views]
    for fv in fvs:
        table = _table_of(fv)
        data = settings.features / table / f"{PARTITION_KEY}={day.isoformat()}" / DATA_FILE
        if not data.is_file():
            result.skipped[fv.name] = f"no partition {data}"
        elif not gate(table, day):
            result.skipped[fv.name] = f"partition {table}/{PARTITION_KEY}={day} is not validated"
        else:
            done = materialized_until(store, fv.name)
            if done is not None and done > end:
                result.skipped[fv.name] = f"superseded: already materialised up to {done.isoformat()}"
        if fv.name in result.skipped:
            log.info("materialize %s %s: skipped (%s)", fv.name, day, result.skipped[fv.name])
            if on_view:
                on_view(fv.name)
            continue
        try:
            store.materialize(start_date=start, end_date=end, feature_views=[fv.name])
        except Exception as err:
            raise FeatureStoreError(
                f"materialize {day} stopped at feature view {fv.name}: {describe_online_failure(store, err)}. "
                f"The interval was not recorded as materialised; rerun `riskpipe materialize --date {day}` "
                f"once the online store is back."
                + (f" Already loaded this run: {', '.join(result.materialized)}." if result.materialized else "")
            ) from err
        result.rows[fv.name] = pq.ParquetFile(data).metadata.num_rows
        result.materialized.append(fv.name)
        log.info("materialized %s for %s (%d rows)", fv.name, day, result.rows[fv.name])
        if on_view:
            on_view(fv.name)
    _record(settings, store.project, result)
    return result


def _record(settings: Settings, project: str, result: MaterializeResult) -> None:
    """Keep a small run record next to the other run metadata (overwritten by a rerun)."""
    path = settings.runs / "materialize" / project / f"{PARTITION_KEY}={result.date.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True))
