"""Ingest of a generated world: every row accounted for, every defect where it belongs, no raw PII."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq

from tests.ingest.conftest import World, tree_digest

REASON_FOR_KIND = {"null_required": "null_required:", "out_of_range": "out_of_range:", "bad_timestamp": "unparseable:"}


def manifest(w: World) -> list[dict]:
    path = w.settings.landing / "_manifest" / "defects.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def quarantine(w: World, source: str) -> pd.DataFrame:
    root = w.settings.quarantine / source
    frames = [pd.read_parquet(p) for p in sorted(root.glob("dt=*/*.parquet"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def silver(w: World, source: str) -> pd.DataFrame:
    root = w.settings.silver / source
    frames = [pd.DataFrame()]
    for part in sorted(root.glob("dt=*")):
        df = pd.read_parquet(part)
        df["dt"] = part.name.removeprefix("dt=")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def test_counts_identity_and_run_metadata(world: World) -> None:
    assert world.results, "nothing was ingested"
    for (source, day), r in world.results.items():
        assert r.rows_read == r.rows_written + r.rows_quarantined + r.duplicates_dropped, (source, day)
        meta = json.loads(Path(r.metadata_path).read_text())
        assert meta["run_id"] == r.run_id and meta["landing_date"] == day.isoformat()
        assert {"read", "check", "transform"} <= set(meta["durations"])
        for f in meta["files"]:
            data = (world.settings.landing / f["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert meta["published"] is True
    # summed over the run, the landing rows of every file were read (nothing silently skipped)
    total_read = sum(r.rows_read for r in world.results.values())
    lines = 0
    for f in world.settings.landing.rglob("dt=*/*"):
        if f.suffix == ".parquet":
            lines += pq.ParquetFile(f).metadata.num_rows
        else:
            n = sum(1 for line in f.read_text().splitlines() if line.strip())
            lines += n - 1 if f.suffix == ".csv" else n
    assert total_read == lines


def test_every_row_defect_is_quarantined_with_its_reason(world: World) -> None:
    recs = [r for r in manifest(world) if r["kind"] in REASON_FOR_KIND and not r.get("lost_in_truncation")]
    assert len({r["kind"] for r in recs}) >= 2, "the generator should have injected several kinds of row defects"
    for rec in recs:
        q = quarantine(world, rec["source"])
        hit = q[(q["_source_file"] == rec["file"]) & (q["_source_row"] == rec["row"])]
        assert len(hit) == 1, rec
        detail = hit.iloc[0]["detail"]
        assert REASON_FOR_KIND[rec["kind"]] in detail, (rec, detail)
        if rec.get("column"):
            assert rec["column"] in detail
        assert rec["file"] in detail and f"row {rec['row']}" in detail


def test_renamed_column_quarantines_the_file_naming_it(world: World) -> None:
    rec = next(r for r in manifest(world) if r["kind"] == "renamed_column")
    q = quarantine(world, "customers")
    rows = q[q["_source_file"] == rec["file"]]
    n_data = len((world.settings.landing / rec["file"]).read_text().splitlines()) - 1
    assert len(rows) == n_data > 0
    assert set(rows["reason"]) == {"missing_column:phone"}
    assert all("phone_number" in d for d in rows["detail"])
    r = world.results[("customers", dt.date.fromisoformat(rec["landing_date"]))]
    assert any("phone" in p and rec["file"] in p for p in r.problems)


def test_truncated_file_quarantines_the_broken_record(world: World) -> None:
    rec = next(r for r in manifest(world) if r["kind"] == "truncated_file")
    q = quarantine(world, "device_events")
    hit = q[(q["_source_file"] == rec["file"]) & (q["_source_row"] == rec["row"])]
    assert list(hit["reason"]) == ["malformed_record"]


def test_duplicates_dropped_and_latest_version_kept(world: World) -> None:
    recs = manifest(world)
    exact = Counter(r["source"] for r in recs if r["kind"] == "exact_duplicate" and not r.get("lost_in_truncation"))
    dropped = Counter()
    for (source, _), r in world.results.items():
        dropped[source] += r.duplicates_dropped
    for source, n in exact.items():
        assert dropped[source] >= n, source
    for source in ("transactions", "device_events", "applications", "repayments", "chargebacks"):
        df = silver(world, source)
        if source in ("transactions", "device_events", "repayments"):
            assert len(df) > 100, source
        if df.empty:
            continue
        key = {"transactions": "txn_id", "device_events": "event_id", "applications": "application_id",
               "repayments": "record_id", "chargebacks": "chargeback_id"}[source]
        assert not df.duplicated(["dt", key]).any(), source
    # near-duplicate customers: the later version (by updated_at) is the one in silver
    cust = silver(world, "customers")
    assert not cust.duplicated(["dt", "customer_id"]).any()


def test_late_rows_are_merged_into_their_event_date(world: World) -> None:
    late = [r for r in manifest(world) if r["kind"] == "late_arriving" and not r.get("lost_in_truncation")]
    assert late, "the generator should have held rows back"
    key = {"transactions": "txn_id", "device_events": "event_id", "applications": "application_id",
           "repayments": "record_id", "chargebacks": "chargeback_id", "bureau": "report_id"}
    for rec in late:
        df = silver(world, rec["source"])
        row = df[df[key[rec["source"]]] == rec["key"]]
        assert len(row) >= 1, rec
        assert (row["_landing_dt"].astype(str) == rec["landing_date"]).any()
        assert (row["dt"] < rec["landing_date"]).all(), "a late row belongs to its (earlier) event date"


def test_silver_schema_is_the_contract(world: World) -> None:
    from riskpipe.sources.config import SILVER_COMMON_COLUMNS, get_sources

    arrow = {"string": "string", "double": "double", "int": "int32", "long": "int64", "boolean": "bool",
             "date": "date32[day]", "timestamp": "timestamp[us, tz=UTC]"}
    for name, spec in get_sources().sources.items():
        files = sorted((world.settings.silver / name).glob("dt=*/*.parquet"))
        if not files:
            continue
        schema = pq.read_schema(files[0])
        want = [(c.name, c.type) for c in spec.silver.columns] + [
            (c, t) for c, t in SILVER_COMMON_COLUMNS if c != "dt"]
        got = [(f.name, str(f.type)) for f in schema]
        assert [n for n, _ in got] == [n for n, _ in want], name
        for (n, t), (_, g) in zip(want, got, strict=True):
            assert g.startswith(arrow[t]), (name, n, t, g)


def test_event_times_are_utc_and_amounts_in_base_currency(world: World) -> None:
    truth = pd.read_parquet(world.settings.ground_truth / "transactions")
    txn = silver(world, "transactions").merge(truth[["txn_id", "ts"]], on="txn_id")
    assert len(txn) > 100
    true_utc = pd.to_datetime(txn["ts"]).dt.tz_localize("UTC")  # ground truth is naive UTC
    diff = (pd.to_datetime(txn["event_ts"]) - true_utc).abs()
    assert diff.max() < pd.Timedelta(seconds=1)  # ground truth keeps whole seconds, landing has millis
    assert (txn["dt"] == true_utc.dt.strftime("%Y-%m-%d")).all()
    from riskpipe.sources.config import get_sources

    fx = get_sources().fx_to_base
    ratio = txn["amount"] / txn["amount_original"]
    expected = txn["currency"].map(fx)
    assert ((ratio - expected).abs() < 1e-9).all()
    # applications carry local times with offsets: converted, not re-labelled
    apps = silver(world, "applications")
    assert (pd.to_datetime(apps["event_ts"]) == pd.to_datetime(apps["applied_at"])).all()


def test_bureau_is_conformed_to_customer_ids(world: World) -> None:
    bureau = silver(world, "bureau")
    cust = silver(world, "customers")
    assert len(bureau) > 0
    known = bureau[bureau["national_id_token"].isin(cust["national_id_token"])]
    assert len(known) > 0 and known["customer_id"].notna().all()
    pairs = cust[["national_id_token", "customer_id"]].drop_duplicates()
    merged = known.merge(pairs, on="national_id_token", suffixes=("", "_c"))
    assert (merged["customer_id"] == merged["customer_id_c"]).all()


def test_no_raw_pii_anywhere_in_outputs_or_logs(world: World) -> None:
    values = set(pd.read_parquet(world.settings.ground_truth / "pii_values.parquet")["value"].astype(str))
    assert len(values) > 100
    texts: list[tuple[str, str]] = [("log", world.log_file.read_text())]
    for p in world.settings.lake.rglob("*"):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            t = pq.read_table(p).to_pandas().astype(str)
            texts.append((str(p), "\n".join("|".join(row) for row in t.itertuples(index=False))))
        else:
            texts.append((str(p), p.read_text(errors="replace")))
    assert len(texts) > 20
    leaks = [(where, v) for where, text in texts for v in values if v in text]
    assert not leaks, leaks[:5]
    # and the tokens are there instead: the same person gets the same token on every day
    cust = silver(world, "customers")
    assert cust["national_id_token"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert cust.groupby("customer_id")["national_id_token"].nunique().max() == 1


def test_rerun_of_a_date_is_byte_identical(world: World, spark) -> None:
    from riskpipe.ingest.pipeline import ingest_date

    roots = (world.settings.silver, world.settings.quarantine)
    before = tree_digest(*roots)
    day = world.days[2]  # carries late rows for day 0
    again = {r.dataset: r for r in ingest_date(day, settings=world.settings, spark=spark)}
    assert tree_digest(*roots) == before
    for name, r in again.items():
        first = world.results[(name, day)]
        assert (r.run_id, r.rows_written, r.rows_quarantined) == (first.run_id, first.rows_written,
                                                                  first.rows_quarantined)
    assert not list((world.settings.lake / "_journal").glob("*.json"))


def test_big_partitions_split_into_files_deterministically(world: World, spark, tmp_path: Path,
                                                           monkeypatch) -> None:
    """A partition over ROWS_PER_FILE is written as several files by parallel tasks (rows bucketed by
    key hash): same rows as the one-file layout, and a rerun writes the same bytes."""
    import shutil

    from riskpipe.ingest import pipeline
    from tests.ingest.conftest import make_settings

    root = tmp_path / "data"
    shutil.copytree(world.root, root)
    s = make_settings(root)
    day = world.days[2]  # carries late rows for day 0: a rebuilt earlier partition splits too
    single = {r.dataset: r for r in pipeline.ingest_date(day, ["customers", "transactions"], settings=s, spark=spark)}
    copy = World(root, s, world.days, {}, world.log_file)
    one_file = silver(copy, "transactions")
    monkeypatch.setattr(pipeline, "ROWS_PER_FILE", 20)
    split = {r.dataset: r for r in pipeline.ingest_date(day, ["customers", "transactions"], settings=s, spark=spark)}
    txn = s.silver / "transactions"
    for d in split["transactions"].partitions:
        files = sorted(p.name for p in (txn / f"dt={d}").iterdir())
        n = len(pd.read_parquet(txn / f"dt={d}"))
        assert files == [f"part-{i:05d}.parquet" for i in range(len(files))]
        assert (1 < len(files) <= -(-n // 20)) if n > 20 else len(files) == 1, (d, n, files)
    many_files = silver(copy, "transactions")
    keys = ["dt", "txn_id"]
    pd.testing.assert_frame_equal(one_file.sort_values(keys).reset_index(drop=True),
                                  many_files.sort_values(keys).reset_index(drop=True))
    for name in split:
        assert (split[name].rows_read, split[name].rows_written, split[name].rows_quarantined,
                split[name].duplicates_dropped) == (single[name].rows_read, single[name].rows_written,
                                                    single[name].rows_quarantined, single[name].duplicates_dropped)
    before = tree_digest(s.silver)
    pipeline.ingest_date(day, ["customers", "transactions"], settings=s, spark=spark)
    assert tree_digest(s.silver) == before


def test_installments_truth_tells_what_the_lake_shows(spark, tmp_path: Path, monkeypatch) -> None:
    """The ground truth's landed_paid_date and schedule_landed (what the early-warning truth reads as
    the lake's view) are what the real ingest publishes, in a world whose repayment records are often
    quarantined (null, out of range, bad timestamp) or superseded by a near duplicate; and its
    payment_quarantined is what dbt finds in the real quarantine (int_installments_tracked's
    payment_in_quarantine, which holds labels back)."""
    import duckdb

    from riskpipe.indicators.build import build_indicators
    from riskpipe.ingest.pipeline import ingest_date
    from riskpipe.sources.generator import DefectRates, generate
    from tests.ingest.conftest import START, make_settings

    days = 6
    s = make_settings(tmp_path / "data")
    generate(customers=300, days=days, start=START, seed=3, landing=s.landing, ground_truth=s.ground_truth,
             txn_per_customer_day=0.01, installment_days=1, application_rate=0.05,
             defects=DefectRates(exact_duplicate=0.02, near_duplicate=0.04, late_arriving=0.03, null_required=0.04,
                                 out_of_range=0.04, bad_timestamp=0.04, renamed_column=False, truncated_file=False))
    for i in range(days):
        ingest_date(START + dt.timedelta(days=i), ["applications", "repayments"], settings=s, spark=spark)
    lake = silver(SimpleNamespace(settings=s), "repayments")
    pay = lake[lake["record_type"] == "payment"]
    pay = pay.assign(paid=pd.to_datetime(pay["event_ts"]).dt.tz_localize(None).dt.normalize())
    shown = pay.groupby(["loan_id", "installment_no"])["paid"].min().rename("shown_paid")
    sched = lake.loc[lake["record_type"] == "schedule", ["loan_id", "installment_no"]].drop_duplicates()
    inst = pd.read_parquet(s.ground_truth / "installments.parquet").merge(
        shown.reset_index(), on=["loan_id", "installment_no"], how="left").merge(
        sched.assign(in_lake=True), on=["loan_id", "installment_no"], how="left")
    end = pd.Timestamp(START + dt.timedelta(days=days))  # payments after the world's last day never land
    landed = pd.to_datetime(inst["landed_paid_date"])
    window = pd.to_datetime(inst["paid_date"]) < end
    lost = window & landed.isna()
    moved = window & landed.notna() & (landed < pd.to_datetime(inst["paid_date"]))
    assert lost.sum() >= 5 and moved.sum() >= 1, (lost.sum(), moved.sum())  # the world has what is checked
    seen = landed < end
    assert (inst.loc[seen, "shown_paid"] == landed[seen]).all()
    assert inst.loc[lost, "shown_paid"].isna().all()
    booked = pd.to_datetime(inst["due_date"]) < end  # schedules land with the booking day
    assert (inst.loc[booked, "in_lake"].fillna(False) == inst.loc[booked, "schedule_landed"]).all()
    assert (~inst.loc[booked, "schedule_landed"]).sum() >= 5

    db = tmp_path / "dbt.duckdb"
    monkeypatch.setenv("RISKPIPE_DBT_DUCKDB_PATH", str(db))
    build_indicators(START + dt.timedelta(days=days), s, select=["+int_installments_tracked"])
    # dbt keeps its connection to the file open in this process: read a copy
    for f in tmp_path.glob("dbt.duckdb*"):
        shutil.copy(f, tmp_path / f.name.replace("dbt.duckdb", "copy.duckdb"))
    with duckdb.connect(str(tmp_path / "copy.duckdb"), read_only=True) as con:
        tracked = con.sql("select loan_id, installment_no, payment_in_quarantine from int_installments_tracked").df()
    m = inst.merge(tracked, on=["loan_id", "installment_no"], how="inner", validate="one_to_one")
    # installments of loans whose application landed intact (int_loans_booked; 12% defects each here)
    assert len(m) > 0.75 * inst["in_lake"].fillna(False).sum()
    held = m["payment_quarantined"].to_numpy(bool)
    assert held.sum() >= 5 and (~held & m["paid_date"].notna()).sum() > 100, held.sum()
    assert (m["payment_in_quarantine"].to_numpy(bool) == held).all(), m[m["payment_in_quarantine"] != held]
    # a payment record quarantined without its loan cannot be placed: lost, and held by neither
    log = [json.loads(x) for x in (s.landing / "_manifest" / "defects.jsonl").read_text().splitlines()]
    no_loan = {(r["key"][2:].rsplit("-", 1)[0], int(r["key"].rsplit("-", 1)[1])) for r in log
               if r["source"] == "repayments" and r["kind"] == "null_required" and r["column"] == "loan_id"
               and r["key"].startswith("P-")}
    unplaced = m[[key in no_loan for key in zip(m["loan_id"], m["installment_no"], strict=True)]]
    assert len(unplaced) >= 1 and not (unplaced["payment_in_quarantine"] | unplaced["payment_quarantined"]).any()
