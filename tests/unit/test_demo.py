"""`riskpipe demo` runs every step on the embedded defaults and says where the outputs are."""

from __future__ import annotations

import re

from typer.testing import CliRunner


def test_demo_runs_all_steps_and_summarises(riskpipe_env) -> None:
    from riskpipe.cli import app
    from riskpipe.demo import STEPS

    res = CliRunner().invoke(app, ["demo", "--customers", "120", "--days", "2", "--airflow-days", "1"],
                             env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    for name, _ in STEPS:
        assert name in res.output
    assert (riskpipe_env / "landing" / "_manifest" / "defects.jsonl").exists()
    assert str((riskpipe_env / "landing").resolve()) in res.output
    # the last landing day again through Airflow, then the retraining DAG
    for run in ("risk_daily 2026-01-02", "risk_retrain 2026-01-04"):
        assert re.search(rf"{run} \(Airflow dag\.test\)\s*│\s*success", res.output), run
