"""risk_daily: one landing day from raw drops to published silver (and on to features as stages land).

Wiring only: every task calls a function of ``riskpipe.orchestration.daily`` with the run's logical
date, which is the landing day processed (see that module). Retries, timeouts, callbacks and the
deadline come from ``riskpipe.orchestration.policy`` (``RISKPIPE_AIRFLOW_*``).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from riskpipe.orchestration.policy import catchup, default_args, run_deadline, start_date


@dag(
    dag_id="risk_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=start_date(),
    catchup=catchup(),
    max_active_runs=1,
    default_args=default_args(),
    deadline=run_deadline(),
    tags=["riskpipe", "daily", "ingest"],
    doc_md=__doc__,
)
def risk_daily() -> None:
    @task
    def land(ds: str | None = None) -> dict:
        from riskpipe.orchestration.daily import land as land_day

        return land_day(ds)

    land()


risk_daily()
