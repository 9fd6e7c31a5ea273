"""risk_daily: one landing day from raw drops to published silver (and on to features as stages land).

Wiring only: every task calls a function of ``riskpipe.orchestration.daily`` with the run's logical
date, which is the landing day processed (see that module). Retries, timeouts, callbacks and the
deadline come from ``riskpipe.orchestration.policy`` (``RISKPIPE_AIRFLOW_*``).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from riskpipe.orchestration.policy import catchup, default_args, run_deadline, start_date

#: ingest tasks, one per source (riskpipe.ingest.pipeline.ORDER; kept literal so parsing stays light)
INGEST_ORDER = ["customers", "applications", "repayments", "transactions", "device_events", "bureau", "chargebacks"]


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

    def ingest_task(source: str):
        @task(task_id=f"ingest_{source}", doc_md=f"landing -> silver for {source} through the quality gate")
        def ingest(ds: str | None = None) -> dict:
            from riskpipe.orchestration.daily import ingest as ingest_source

            return ingest_source(ds, source)

        return ingest()

    landed = land()
    # customers first: the bureau feed is conformed to customer ids through published customers
    ingested = {source: ingest_task(source) for source in INGEST_ORDER}
    landed >> ingested["customers"]
    for source, t in ingested.items():
        if source != "customers":
            landed >> t
    ingested["customers"] >> ingested["bureau"]


risk_daily()
