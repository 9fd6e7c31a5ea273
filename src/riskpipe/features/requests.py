"""Request-time fields a training set, a declined set or a batch population must carry, rebuilt from the lake.

At serving time the client sends them with the request (``riskpipe serve``); offline they are columns of
the entity frame (Feast runs the on-demand views on them). Fields that are facts of the observation
itself (``requested_amount``) come with the label table or the silver population. Fields the lender
fetched from elsewhere at decision time come from here: one function per Feast request source, keyed by
its name in :data:`PROVIDERS`, called by :func:`riskpipe.features.training.build_training_set` for a
source the entity frame lacks, so the same definition feeds training, reject inference and batch scoring.

- ``bureau_pull_request`` (credit_pd_v2): the credit bureau report pulled at application. Offline it is
  the bureau feed's report whose ``as_of_date`` is the application's UTC day, matched on the conformed
  ``customer_id``; of several that day, the highest ``report_id`` (the feed's latest version); with a
  ``known_by`` time, only reports the lake held by then (``known_at``), so a rerun with the same
  ``known_by`` reads the same values. No such report: every ``pull_*`` is null.

A training set of served decisions (the served population, :func:`riskpipe.models.flows.served_rows`)
takes the fields as the decision logged them instead (:func:`logged_request_fields`): what the model
saw, not the lake's later view. Rows whose decision did not carry a source's fields (served on a service
without them) are rebuilt from the lake, and the manifest counts both.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from riskpipe.errors import ConfigError
from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: the bureau fields of the pull (feature_repo/on_demand.py declares its request source from them: request
#: fields ``pull_<field>``)
BUREAU_PULL_FIELDS = ("bureau_score", "open_accounts", "total_balance", "delinquencies_24m", "inquiries_6m",
                      "oldest_account_months")
PULL_COLUMNS = tuple(f"pull_{f}" for f in BUREAU_PULL_FIELDS)


class RequestFieldsError(ConfigError):
    """The lake cannot supply a request source's fields (no such dataset, wrong columns)."""


def bureau_pull(rows: pd.DataFrame, settings: Settings, time_column: str = "feature_ts",
                known_by: dt.datetime | None = None) -> pd.DataFrame:
    """``rows`` (``customer_id``, the application time in ``time_column``) plus ``pull_*``: the
    application day's bureau report."""
    root = settings.silver / "bureau"
    files = sorted(root.glob("dt=*/*.parquet"))
    if not files:
        raise RequestFieldsError(f"the bureau pull needs the silver bureau dataset; no partition under {root}")
    day = pd.to_datetime(rows[time_column], utc=True).dt.date
    # only what can match: a report lands on or after its as_of_date, so partitions before the first
    # application day cannot hold one, and rows outside the days are filtered in the read
    first, last = (day.min(), day.max()) if len(rows) else (dt.date.max, dt.date.min)
    files = [f for f in files if f.parent.name.removeprefix("dt=") >= first.isoformat()] or files[-1:]
    cols = ["customer_id", "as_of_date", "report_id", "known_at", *BUREAU_PULL_FIELDS]
    try:
        reports = pd.concat([pd.read_parquet(f, columns=cols, filters=[("as_of_date", ">=", first),
                                                                       ("as_of_date", "<=", last)])
                             for f in files], ignore_index=True)
    except (KeyError, ValueError) as err:  # pyarrow names the missing column
        raise RequestFieldsError(f"{root}: silver bureau lacks a column of the pull ({', '.join(cols)}): {err}") from None
    reports = reports.dropna(subset=["customer_id", "as_of_date", "report_id"])
    if known_by is not None:
        reports = reports[pd.to_datetime(reports["known_at"], utc=True) <= pd.Timestamp(known_by)]
    reports = reports.sort_values("report_id", kind="stable").drop_duplicates(["customer_id", "as_of_date"],
                                                                              keep="last")
    reports = reports.assign(_day=pd.to_datetime(reports["as_of_date"]).dt.date)[["customer_id", "_day",
                                                                                   *BUREAU_PULL_FIELDS]]
    reports = reports.rename(columns=dict(zip(BUREAU_PULL_FIELDS, PULL_COLUMNS, strict=True)))
    joined = rows[["customer_id"]].assign(_day=day.to_numpy()).merge(reports, on=["customer_id", "_day"], how="left")
    if len(joined) != len(rows):  # cannot happen after drop_duplicates; a silent fan-out would be worse
        raise RequestFieldsError(f"the bureau pull changed the row count ({len(rows)} -> {len(joined)})")
    out = rows.drop(columns=[c for c in PULL_COLUMNS if c in rows.columns])
    for c in PULL_COLUMNS:
        out[c] = joined[c].astype("float64").to_numpy()
    log.info("bureau pull: %d of %d rows have the application day's report", int(joined[PULL_COLUMNS[0]].notna().sum()),
             len(rows))
    return out


#: Feast request source -> the function that rebuilds its fields for entity rows from the lake
PROVIDERS: dict[str, Callable[..., pd.DataFrame]] = {"bureau_pull_request": bureau_pull}


def logged_column(source: str) -> str:
    """The entity column marking rows whose ``source`` fields are as a decision logged them (True) or
    to be rebuilt from the lake (False)."""
    return f"_logged:{source}"


def _sources(odfvs: Iterable[Any]) -> dict[str, list[str]]:
    return {rs.name: [f.name for f in rs.schema] for odfv in odfvs for rs in odfv.source_request_sources.values()}


def logged_request_fields(rows: pd.DataFrame, odfvs: Iterable[Any], decisions_root: Any) -> pd.DataFrame:
    """``rows`` (a ``decision_id`` column: served decisions) plus, for every request source of ``odfvs``
    (on-demand views) with a provider, its fields as the decision logged them (the record's ``features``:
    the values the model saw) and :func:`logged_column`: True where the record holds every field of the
    source (a field logged as null is a null the model saw: the pull found no report), False where it
    holds none of them (the decision was served on a service without the source), so
    :func:`with_request_fields` rebuilds those rows. A record with some of the fields only, or a
    decision id with no record, is an error: the log is the evidence of what was served."""
    import json

    from riskpipe.models.decisions import read_decisions

    sources = {n: f for n, f in _sources(odfvs).items() if n in PROVIDERS}
    if not sources:
        return rows
    ids = rows["decision_id"].astype(str)
    logged = read_decisions(decisions_root, decision_ids=ids, columns=["decision_id", "features"])
    logged = logged.drop_duplicates("decision_id").set_index("decision_id")["features"]
    absent = sorted(set(ids) - set(logged.index))
    if absent:
        raise RequestFieldsError(f"{len(absent)} served decision(s) have no record in {decisions_root} "
                                 f"(e.g. {absent[0]}): their request fields cannot be taken as logged")
    seen = [json.loads(logged[i]) for i in ids]
    out = rows.copy()
    for name, fields in sorted(sources.items()):
        carried = [sum(f in row for f in fields) for row in seen]
        partial = [i for i, n in zip(ids, carried, strict=True) if 0 < n < len(fields)]
        if partial:
            raise RequestFieldsError(f"{len(partial)} logged decision(s) hold some of the fields of {name} "
                                     f"({', '.join(fields)}) but not all (e.g. {partial[0]})")
        has = [n == len(fields) for n in carried]
        for f in fields:
            values = [row.get(f) if h else None for row, h in zip(seen, has, strict=True)]
            numeric = all(v is None or isinstance(v, int | float) for v in values)
            out[f] = pd.Series(values, index=out.index, dtype="float64" if numeric else object)
        out[logged_column(name)] = has
    return out


def with_request_fields(rows: pd.DataFrame, odfvs: Iterable[Any], settings: Settings, time_column: str,
                        known_by: dt.datetime | None = None) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """``rows`` (observation time in ``time_column``) plus the fields of every request source of
    ``odfvs`` (on-demand views) that they lack and a provider supplies; the names of the sources so
    rebuilt; and per source marked by :func:`logged_column`, the rows that kept their logged fields.

    A source whose fields are all present is left alone (a caller that has them keeps its own), except
    on the rows its :func:`logged_column` marks False, which are rebuilt (the marker is dropped). One
    without a provider is left to the caller's check, which names the missing columns.
    """
    rebuilt, logged = [], {}
    for name, fields in sorted(_sources(odfvs).items()):
        marker = logged_column(name)
        if name not in PROVIDERS or (all(f in rows.columns for f in fields) and marker not in rows.columns):
            continue
        if marker in rows.columns:
            keep = rows[marker].astype(bool)
            logged[name] = int(keep.sum())
            rows = rows.drop(columns=[marker])
            if keep.all():
                continue
            fresh = PROVIDERS[name](rows.loc[~keep], settings, time_column, known_by)
            for f in fields:
                rows.loc[~keep, f] = fresh[f]  # aligned on the index
        else:
            rows = PROVIDERS[name](rows, settings, time_column, known_by)
        rebuilt.append(name)
    return rows, rebuilt, logged
