"""Labels mature only over outcomes the lake holds: a chargebacks landing day that its gate blocked
(staged, not published) stops the fraud labels' horizon at its start, so the transactions it would
have labelled bad are not published as good; once the day is published they carry their label. A
blocked repayments day holds back only the labels read from repayments, not the fraud labels."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pandas as pd
import pytest

from tests.indicators.test_point_in_time import silver
from tests.worlds import DAYS, FRAUD_LABEL_DAYS, START, _isolated_settings


@dataclasses.dataclass
class _Verdict:
    passed: bool
    message: str


def _blocking_gate(*blocked: tuple[str, dt.date]):
    """A gate (the ingest's ``gate`` argument) that fails ``blocked`` and passes everything else."""
    return lambda source, day, df: _Verdict((source, day) not in blocked, f"{source} {day}: blocked by the test")


def _read_labels(s, day: dt.date) -> pd.DataFrame:
    return pd.read_parquet(s.features / "label_fraud" / f"dt={day.isoformat()}" / "data.parquet")


def test_an_unpublished_chargebacks_day_stops_fraud_labels_until_published(world, spark, tmp_path):
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.indicators.build import build_indicators, unpublished_outcomes
    from riskpipe.ingest.pipeline import PublicationBlocked, ingest_day, publish_staged
    from riskpipe.settings import reset_settings

    # a landing day D whose fraud chargebacks label transactions of D - 1 within their window
    cb, tx = silver(world, "chargebacks"), silver(world, "transactions")
    cb = cb[cb["is_fraud"]].merge(tx[["txn_id", "event_ts"]], on="txn_id", suffixes=("", "_txn"))
    cb["landed"] = cb["_landing_dt"].map(lambda d: pd.Timestamp(d).date())
    cb = cb[(cb["event_ts_txn"].dt.date == cb["landed"] - dt.timedelta(days=1))
            & (cb["known_at"] <= cb["event_ts_txn"] + pd.Timedelta(days=FRAUD_LABEL_DAYS))]
    assert not cb.empty, "the world has no fraud chargeback reported the day after its transaction"
    day = min(cb["landed"])
    feature_day = day - dt.timedelta(days=1)
    reported = set(cb.loc[cb["landed"] == day, "txn_id"])

    data = tmp_path / "data"
    for part in ("landing", "ground_truth"):
        shutil.copytree(world.data_dir / part, data / part)
    with pytest.MonkeyPatch.context() as mp:
        s = _isolated_settings(mp, data, RISKPIPE_FRAUD_LABEL_DAYS=str(FRAUD_LABEL_DAYS))
        gate = _blocking_gate(("chargebacks", day), ("repayments", START))
        for i in range(DAYS):
            d = START + dt.timedelta(days=i)
            for source in ("customers", "transactions", "repayments", "chargebacks"):
                if (s.landing / source / f"dt={d.isoformat()}").is_dir():
                    try:
                        ingest_day(source, d, settings=s, spark=spark, gate=gate)
                    except PublicationBlocked:
                        assert (source, d) in {("chargebacks", day), ("repayments", START)}
        assert unpublished_outcomes(s) == {"repayments": [START], "chargebacks": [day]}
        assert not set(silver(s, "chargebacks")["txn_id"]) & reported, "the blocked day reached silver"

        # the operator's command says so (under its table, and in the build's log warning)
        res = CliRunner().invoke(app, ["indicators", "--date", feature_day.isoformat(), "--select", "+label_fraud",
                                       "--no-graph", "--no-validate"])
        assert res.exit_code == 0, res.output
        said = (f"labels in label_credit_pd, label_early_warning mature only up to {START} 00:00: repayments "
                f"landing day(s) {START} staged but not published; labels in label_fraud mature only up to {day} 00:00: "
                f"chargebacks landing day(s) {day} staged but not published")
        assert said in " ".join(res.output.split()), res.output
        # every window of D - 1 ends after D 00:00: none matures while D's chargebacks are unknown
        # (without the hole they would be published, the reported ones labelled good)
        assert _read_labels(s, feature_day).empty

        # the chargebacks day published, the fraud labels mature; the repayments hole (left
        # unpublished) holds back only the labels read from repayments
        assert publish_staged("chargebacks", day, settings=s)
        assert unpublished_outcomes(s) == {"repayments": [START]}
        done = build_indicators(feature_day, s, select=["+label_fraud"])
        assert done.unpublished == {"repayments": [START]}
        labels = _read_labels(s, feature_day).set_index("txn_id")
        assert len(labels) == (tx["event_ts"].dt.date == feature_day).sum()
        assert reported <= set(labels.index)
        assert (labels.loc[sorted(reported), "label"] == 1).all()
    reset_settings()
