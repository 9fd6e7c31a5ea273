"""The synthetic generator: deterministic, declared formats, honest manifest, believable labels."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from riskpipe.errors import ConfigError
from riskpipe.models.flows import MODEL_SPECS
from riskpipe.models.labels import load_label_definitions
from riskpipe.settings import Settings
from riskpipe.sources.config import load_sources
from riskpipe.sources.generator import (
    DefectRates,
    Generator,
    GeneratorConfig,
    _date,
    _ids,
    _iso,
    _late_days_and_jitter,
    _time_order,
    generate,
)

SOURCES = load_sources()


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _gen(root: Path, **kw) -> object:
    args = dict(customers=300, days=6, seed=11, landing=root / "landing", ground_truth=root / "gt")
    args.update(kw)
    return generate(**args)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dirty")
    rates = DefectRates(0.01, 0.01, 0.02, 0.01, 0.01, 0.01, True, True)
    _gen(root, defects=rates)
    return root


def _read(spec_name: str, path: Path) -> pl.DataFrame:
    spec = SOURCES[spec_name]
    if spec.format == "parquet":
        return pl.from_arrow(pq.read_table(path))
    if spec.format == "csv":
        opts = pacsv.ReadOptions(column_names=None)
        conv = pacsv.ConvertOptions(column_types={c: "string" for c in _header(path, spec)},
                                    strings_can_be_null=True)
        return pl.from_arrow(pacsv.read_csv(path, opts, pacsv.ParseOptions(delimiter=spec.options["delimiter"]),
                                            conv))
    if path.stat().st_size == 0:  # a day without records is an empty JSONL file
        return pl.DataFrame({c.name: [] for c in spec.landing.columns})
    return pl.read_ndjson(path)


def _header(path: Path, spec) -> list[str]:
    return path.read_text().splitlines()[0].replace('"', "").split(spec.options["delimiter"])


def _manifest(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / "landing" / "_manifest" / "defects.jsonl").read_text().splitlines()]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    _gen(tmp_path / "a")
    _gen(tmp_path / "b")
    _gen(tmp_path / "c", seed=12)
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert a == b and len(a) > 40
    assert a != c


def test_every_source_every_day_in_declared_format(dirty: Path) -> None:
    landing = dirty / "landing"
    for name, spec in SOURCES.sources.items():
        days = sorted((landing / name).glob("dt=*"))
        assert len(days) == 6, name
        for folder in days:
            day = dt.date.fromisoformat(folder.name[3:])
            path = folder / spec.file_name(day)
            assert path.exists(), path
            if name == "device_events" and _is_truncated(dirty, path):
                continue
            df = _read(name, path)
            declared = [c.name for c in spec.landing.columns]
            if name == "customers" and "phone_number" in df.columns:
                continue  # the renamed-column day, checked against the manifest below
            assert df.columns == declared or (df.height == 0 and set(df.columns) <= set(declared)), (path, df.columns)


def _is_truncated(root: Path, path: Path) -> bool:
    return any(r["kind"] == "truncated_file" and (root / "landing" / r["file"]) == path for r in _manifest(root))


def test_manifest_matches_what_was_written(dirty: Path) -> None:
    recs = _manifest(dirty)
    kinds = {r["kind"] for r in recs}
    assert kinds >= {"exact_duplicate", "near_duplicate", "late_arriving", "null_required", "out_of_range",
                     "bad_timestamp", "renamed_column", "truncated_file", "late_beyond_window"}
    frames: dict[str, pl.DataFrame] = {}
    for r in recs:
        if r["kind"] == "late_beyond_window":  # held back past the last day: in no landing file
            assert r["event_date"] < "2026-01-07" <= r["landing_date"], r
            spec = SOURCES[r["source"]]
            for folder in sorted((dirty / "landing" / r["source"]).glob("dt=*")):
                path = folder / spec.file_name(dt.date.fromisoformat(folder.name[3:]))
                if not (_is_truncated(dirty, path) or _renamed(dirty, path)):
                    assert r["key"] not in _read(r["source"], path)[spec.keys[0]].to_list(), (r, path)
            continue
        path = dirty / "landing" / r["file"]
        if r["kind"] == "renamed_column":
            header = _header(path, SOURCES[r["source"]])
            assert r["renamed_to"] in header and r["column"] not in header
            continue
        if r["kind"] == "truncated_file":
            last = path.read_bytes().split(b"\n")[-1]
            with pytest.raises(json.JSONDecodeError):
                json.loads(last)
            continue
        if r.get("lost_in_truncation") or _is_truncated(dirty, path) or _renamed(dirty, path):
            continue
        df = frames.setdefault(r["file"], _read(r["source"], path))
        spec = SOURCES[r["source"]]
        row = df.row(r["row"] - 1, named=True)
        assert row[spec.keys[0]] == r["key"], r
        if r["kind"] == "null_required":
            assert row[r["column"]] is None, r
        elif r["kind"] == "out_of_range":
            lo, hi = spec.landing_column(r["column"]).range
            assert not lo <= float(row[r["column"]]) <= hi, r
        elif r["kind"] == "bad_timestamp":
            with pytest.raises(ValueError):
                dt.datetime.fromisoformat(row[r["column"]]) if "-" in row[r["column"]] else \
                    dt.datetime.strptime(row[r["column"]], "%Y%m%d")
        elif r["kind"] == "exact_duplicate":
            assert df.row(r["duplicate_of_row"] - 1, named=True) == row
        elif r["kind"] == "near_duplicate":
            orig = df.row(r["duplicate_of_row"] - 1, named=True)
            assert orig[spec.keys[0]] == row[spec.keys[0]] and orig != row
            assert orig[r["column"]] != row[r["column"]]
        elif r["kind"] == "late_arriving":
            assert r["event_date"] < r["landing_date"]
            assert _event_date(spec, row) == r["event_date"], r


def _renamed(root: Path, path: Path) -> bool:
    return any(r["kind"] == "renamed_column" and (root / "landing" / r["file"]) == path for r in _manifest(root))


def _event_date(spec, row) -> str:
    v = row[spec.event_time.column]
    parse = spec.event_time.parse
    if parse == "epoch_millis":
        return dt.datetime.fromtimestamp(v / 1000, dt.UTC).date().isoformat()
    if parse == "yyyymmdd":
        return dt.datetime.strptime(v, "%Y%m%d").date().isoformat()
    return dt.datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(dt.UTC).date().isoformat()


def test_regular_rows_have_event_time_on_their_landing_day(tmp_path: Path) -> None:
    # 20,000 customers: enough loans decided after midnight that their schedule rows must move to the
    # next day's repayments file (else they would be known before they happened)
    _gen(tmp_path, customers=20000, defects=DefectRates.clean())
    for name in ("transactions", "device_events", "customers", "applications", "repayments"):
        spec = SOURCES[name]
        for folder in sorted((tmp_path / "landing" / name).glob("dt=*")):
            day = folder.name[3:]
            df = _read(name, folder / spec.file_name(dt.date.fromisoformat(day)))
            assert {_event_date(spec, r) for r in df.iter_rows(named=True)} <= {day}, (name, day)


def test_clean_mode_has_no_defects(tmp_path: Path) -> None:
    summary = _gen(tmp_path, defects=DefectRates.clean())
    assert summary.defects == {}
    assert _manifest(tmp_path) == []
    for name, spec in SOURCES.sources.items():
        for folder in (tmp_path / "landing" / name).glob("dt=*"):
            df = _read(name, folder / spec.file_name(dt.date.fromisoformat(folder.name[3:])))
            for col in spec.required_columns:
                assert df[col].null_count() == 0, (name, col)
            assert df.select(spec.keys).is_duplicated().sum() == 0, name


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("truth")
    cfg = GeneratorConfig(customers=4000, days=24, seed=5, application_rate=0.01, ring_share=0.03,
                          txn_per_customer_day=0.3, login_rate=0.3, defects=DefectRates.clean())
    Generator(cfg, root / "landing", root / "gt").run()
    return root


def test_label_rates_within_bounds_and_truth_ranks_labels(truth: Path) -> None:
    apps = pq.read_table(truth / "gt" / "applications.parquet").to_pandas()
    txns = pads.dataset(truth / "gt" / "transactions", partitioning="hive").to_table().to_pandas()
    assert 0.02 <= apps.default_12m.mean() <= 0.30
    assert 0.50 <= (apps.decision == "approved").mean() <= 0.95
    assert 0.001 <= txns.is_fraud.mean() <= 0.05
    assert 0.65 <= roc_auc_score(apps.default_12m, apps.p_default_12m) <= 0.97
    assert 0.70 <= roc_auc_score(txns.is_fraud, txns.p_fraud) <= 0.98
    # declined applicants keep a true outcome (reject inference needs it)
    assert apps.loc[apps.decision == "declined", "default_12m"].notna().all()


def test_chargebacks_refer_to_earlier_transactions(truth: Path) -> None:
    cb = pl.concat([pl.read_ndjson(p) for p in (truth / "landing" / "chargebacks").rglob("*.jsonl")
                    if p.stat().st_size])
    txns = pl.from_arrow(pads.dataset(truth / "gt" / "transactions", partitioning="hive").to_table())
    joined = cb.join(txns, on="txn_id", how="left")
    assert cb.height > 5 and joined["ts"].null_count() == 0
    reported = joined["reported_at"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    assert (reported > joined["ts"].dt.replace_time_zone("UTC")).all()
    fraud_codes = joined.filter(pl.col("reason_code").str.starts_with("fraud_")
                                | (pl.col("reason_code") == "account_takeover"))
    assert fraud_codes["is_fraud"].mean() == 1.0


def test_ring_members_share_devices(truth: Path) -> None:
    cust = pq.read_table(truth / "gt" / "customers.parquet").to_pandas()
    ev = pl.concat([pl.read_ndjson(p) for p in (truth / "landing" / "device_events").rglob("*.jsonl")])
    per_device = ev.group_by("device_id").agg(pl.col("customer_id").n_unique().alias("n"))
    shared = per_device.filter(pl.col("n") > 1)["device_id"]
    sharers = set(ev.filter(pl.col("device_id").is_in(shared))["customer_id"].to_list())
    ring = set(cust.loc[cust.ring_id >= 0, "customer_id"])
    assert sharers and sharers <= ring  # only ring members share a device
    assert len(sharers) / len(ring) > 0.5


def test_pii_values_listed_in_ground_truth(dirty: Path) -> None:
    pii = pl.read_parquet(dirty / "gt" / "pii_values.parquet")
    assert set(pii["column"].unique()) == {"national_id", "phone", "full_name", "card_number"}
    txn = pq.read_table(next((dirty / "landing" / "transactions").rglob("*.parquet")))
    assert set(txn["card_number"].to_pylist()) <= set(pii.filter(pl.col("column") == "card_number")["value"])
    assert all(len(c) == 16 and _luhn_ok(c) for c in txn["card_number"].to_pylist()[:50])
    listed = {c: set(pii.filter(pl.col("column") == c)["value"]) for c in ("phone", "national_id", "full_name")}
    for path in (dirty / "landing" / "customers").rglob("*.csv"):
        df = _read("customers", path)
        phone_col = "phone" if "phone" in df.columns else "phone_number"
        assert set(df[phone_col].drop_nulls()) <= listed["phone"], path
        assert set(df["national_id"].drop_nulls()) <= listed["national_id"], path
        assert set(df["full_name"].drop_nulls()) <= listed["full_name"], path


def _luhn_ok(num: str) -> bool:
    digits = [int(c) for c in num][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def test_cli_generate(tmp_path: Path, riskpipe_env: Path) -> None:
    from riskpipe.cli import app

    res = CliRunner().invoke(app, ["generate", "--customers", "50", "--days", "2", "--clean", "--application-rate",
                                   "0.2", "--installment-days", "7", "--credit-bad-dpd", "20",
                                   "--credit-window-days", "60"])
    assert res.exit_code == 0, res.output
    assert (riskpipe_env / "landing" / "transactions" / "dt=2026-01-02").is_dir()
    assert "transactions" in res.output
    apps = pd.read_parquet(riskpipe_env / "ground_truth" / "applications.parquet")
    assert len(apps) and set(apps["default_min_dpd"]) == {20} and set(apps["default_window_days"]) == {60}
    bad = CliRunner().invoke(app, ["generate", "--start", "2026-02-30"])
    assert bad.exit_code != 0
    assert CliRunner().invoke(app, ["generate", "--help"]).exit_code == 0


def test_scales_with_customers(tmp_path: Path) -> None:
    small = _gen(tmp_path / "s", customers=100, days=2, defects=DefectRates.clean())
    big = _gen(tmp_path / "b", customers=400, days=2, defects=DefectRates.clean())
    assert 2.5 < big.rows["transactions"] / small.rows["transactions"] < 6
    assert np.isclose(big.rows["customers"] / small.rows["customers"], 4, rtol=0.2)


def test_application_rate_sets_the_applications_per_customer_day(tmp_path: Path) -> None:
    base = _gen(tmp_path / "base", customers=200, days=3, defects=DefectRates.clean())
    busy = _gen(tmp_path / "busy", customers=200, days=3, defects=DefectRates.clean(), application_rate=0.25)
    assert base.rows["applications"] < 15  # the default 0.004: about one a day
    assert 0.2 * 200 * 3 < busy.rows["applications"] < 0.3 * 200 * 3
    apps = pd.read_parquet(tmp_path / "busy" / "gt" / "applications.parquet")
    assert len(apps) == busy.rows["applications"] and set(apps["decision"]) == {"approved", "declined"}
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="application_rate"):
            _gen(tmp_path / "bad", customers=50, days=1, application_rate=bad)


def test_credit_time_compresses_with_the_default_truth(tmp_path: Path) -> None:
    """credit_bad_dpd / credit_window_days set what the credit truth is the probability of, and the
    repayments feed agrees: a defaulter's loan has an installment still unpaid credit_bad_dpd days
    after its due date within the window; a good one pays (late payments stay short of it)."""
    inst, bad_dpd, window, days = 5, 15, 35, 50
    _gen(tmp_path, customers=1000, days=days, defects=DefectRates.clean(), application_rate=0.08,
         installment_days=inst, credit_bad_dpd=bad_dpd, credit_window_days=window,
         ground_truth=tmp_path / "ground_truth")
    apps = pd.read_parquet(tmp_path / "ground_truth" / "applications.parquet")
    assert set(apps["default_min_dpd"]) == {bad_dpd} and set(apps["default_window_days"]) == {window}
    # training reports a ratio to the truth only for the label definition the truth is of
    spec, packaged = MODEL_SPECS["credit_pd"], load_label_definitions().labels["credit_pd"]
    compressed = packaged.model_copy(update={"performance_days": window,
                                             "bad": packaged.bad.model_copy(update={"min_dpd": bad_dpd})})
    s = Settings(data_dir=tmp_path)
    assert spec.truth_dpd_in(s) == (bad_dpd, window)
    assert spec.truth_applies(compressed, s) and not spec.truth_applies(packaged, s)
    d = apps[apps["default_12m"]]
    assert ((d["default_date"] - d["applied_at"]) <= pd.Timedelta(days=window, hours=3)).all()
    landed = pd.concat([pd.read_parquet(f) for f in sorted((tmp_path / "landing" / "repayments").rglob("*.parquet"))])
    sched = landed[landed["record_type"] == "schedule"][["loan_id", "installment_no", "due_date"]]
    paid = landed[landed["record_type"] == "payment"][["loan_id", "installment_no", "event_at"]]
    rows = sched.merge(paid, on=["loan_id", "installment_no"], how="left")
    rows["late_at"] = pd.to_datetime(rows["due_date"], utc=True) + pd.Timedelta(days=bad_dpd)
    unpaid = rows["event_at"].isna() | (pd.to_datetime(rows["event_at"], utc=True) >= rows["late_at"])
    book = pd.read_parquet(tmp_path / "ground_truth" / "loans.parquet")[["loan_id", "application_id"]]
    loans = book.merge(apps[["application_id", "applied_at", "default_12m"]], on="application_id")
    loans["end"] = pd.to_datetime(loans["applied_at"], utc=True) + pd.Timedelta(days=window)
    loans = loans[loans["end"] < pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=days)]  # observed whole
    r = rows[unpaid].merge(loans[["loan_id", "end"]], on="loan_id")
    bad = set(r.loc[r["late_at"] <= r["end"], "loan_id"])
    loans["bad"] = loans["loan_id"].isin(bad)
    assert len(loans) > 300 and loans["default_12m"].sum() > 10
    assert loans.loc[loans["default_12m"], "bad"].all()  # every defaulter reaches the DPD in the window
    assert loans.loc[~loans["default_12m"], "bad"].mean() < 0.05  # a late payer rarely does
    with pytest.raises(ConfigError, match="credit_bad_dpd"):
        _gen(tmp_path / "bad", customers=50, days=1, installment_days=inst, credit_bad_dpd=30, credit_window_days=35)


def test_byte_built_text_matches_python_formatting() -> None:
    """Ids, dates and ISO times are assembled from raw bytes; they must read as Python would write them."""
    secs = np.random.default_rng(0).integers(-20 * 365 * 86_400, 130 * 365 * 86_400, 5_000)
    secs = np.concatenate([secs, [0, 951_782_400, 1_767_225_599, 1_772_323_199]])  # epoch, leap day, year/month end
    offs = np.resize(np.arange(-12, 15), len(secs))
    utc = [dt.datetime.fromtimestamp(int(s), dt.UTC) for s in secs]
    assert _iso(secs, offs).to_pylist() == [
        t.astimezone(dt.timezone(dt.timedelta(hours=int(h)))).isoformat() for t, h in zip(utc, offs, strict=True)]
    assert _iso(secs, utc_z=True).to_pylist() == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in utc]
    assert _date(secs // 86_400, b"").to_pylist() == [t.strftime("%Y%m%d") for t in utc]
    ids = [0, 7, 1234, 99_999_999]
    assert _ids("C", np.array(ids), 8).to_pylist() == [f"C{v:08d}" for v in ids]
    assert _ids("T", np.array(ids), 13).to_pylist() == [f"T{v:013d}" for v in ids]
    with pytest.raises(ValueError, match="8 digits"):
        _ids("C", np.array([10**8]), 8)


@pytest.mark.parametrize("high", [20 * 3600, 8 * 3600 + 2**31 + 1])  # the jitter; a span rejecting ~half the draws
def test_payment_draws_are_numpys_own_calls(high: int) -> None:
    """The fast payment draws are the stream of r.random / r.geometric / r.integers called one payment at a time
    (what keeps generated files byte-identical), and they hand the generator back in the same state."""
    late_prob = np.random.default_rng(0).uniform(0, 0.6, 20_000)
    fast, slow = np.random.default_rng(5), np.random.default_rng(5)
    for g in (fast, slow):
        g.integers(0, 7, 3)  # leaves half a 64-bit word buffered for the next 32-bit draw
    delay, jitter = _late_days_and_jitter(fast, late_prob, 8 * 3600, high)
    expect = [(int(slow.geometric(0.25)) if slow.random() < p else 0, int(slow.integers(8 * 3600, high)))
              for p in late_prob]
    assert list(zip(delay.tolist(), jitter.tolist(), strict=True)) == expect
    assert 0 < (delay > 0).mean() < 0.6
    assert fast.integers(0, 1000, 9).tolist() == slow.integers(0, 1000, 9).tolist()


def test_time_order_is_the_stable_argsort() -> None:
    """Rows are put in time order by sorting (time, position) keys; ties must keep their generated order."""
    ts = np.random.default_rng(1).integers(1_767_225_600_000, 1_767_225_600_000 + 5_000, 20_000)  # many ties
    assert np.array_equal(_time_order(ts), np.argsort(ts, kind="stable"))
    wide = np.array([-(2**62), 2**62, 0, 0])  # keys would overflow: falls back to the plain stable sort
    assert _time_order(wide).tolist() == [0, 2, 3, 1]


def test_population_beyond_customer_id_digits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="8 digits of customer_id"):
        _gen(tmp_path, customers=99_000_000, days=30)
