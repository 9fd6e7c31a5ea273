"""`riskpipe demo` runs every step on the embedded defaults and says where the outputs are."""

from __future__ import annotations

from typer.testing import CliRunner


def test_demo_runs_all_steps_and_summarises(riskpipe_env) -> None:
    from riskpipe.cli import app
    from riskpipe.demo import STEPS

    res = CliRunner().invoke(app, ["demo", "--customers", "120", "--days", "2"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    for name, _ in STEPS:
        assert name in res.output
    assert (riskpipe_env / "landing" / "_manifest" / "defects.jsonl").exists()
    assert str((riskpipe_env / "landing").resolve()) in res.output
