"""risk_monitoring: daily health of the pipeline for one logical date; findings become alerts.

Wiring only: tasks call ``riskpipe.orchestration.monitoring``: landing freshness, batch scores of the
day's population with each champion, feature and score drift and freshness against the
``RISKPIPE_MONITOR_*`` thresholds, outcomes (logged decisions joined to their matured labels), then the day's HTML risk report and its
Parquet tables. A finding (stale data, drift) is an alert record, not a task failure; a task fails (and alerts through ``on_failure_callback``) only when
it cannot check. Runs at 06:00 UTC for the day that closed at midnight, after risk_daily.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from riskpipe.orchestration.policy import default_args, run_deadline, start_date


@dag(
    dag_id="risk_monitoring",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(timeout_factor=0.25),
    deadline=run_deadline(),
    tags=["riskpipe", "daily", "monitoring"],
    doc_md=__doc__,
)
def risk_monitoring() -> None:
    @task
    def landing_freshness(ds: str | None = None) -> dict:
        from riskpipe.orchestration.monitoring import check_freshness

        return check_freshness(ds, "landing")

    @task
    def score_population(ds: str | None = None) -> dict:
        from riskpipe.orchestration.monitoring import score_population as score

        return score(ds)

    @task
    def feature_drift(ds: str | None = None) -> dict:
        """Feature PSI, score PSI (batch scores of score_population) and freshness breaches -> alerts."""
        from riskpipe.orchestration.monitoring import check_drift

        return check_drift(ds)

    @task
    def outcomes(ds: str | None = None) -> dict:
        """Logged decisions joined to their matured labels; realised performance and skew -> alerts."""
        from riskpipe.orchestration.monitoring import join_outcomes

        return join_outcomes(ds)

    @task
    def report(ds: str | None = None) -> dict:
        from riskpipe.orchestration.monitoring import report as build

        return build(ds)

    scored = score_population()
    drift = feature_drift()
    scored >> drift
    [landing_freshness(), drift, outcomes()] >> report()


risk_monitoring()
