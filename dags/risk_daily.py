"""risk_daily: one landing day from raw drops to the online store.

land -> ingest_<source> (Spark, through the Great Expectations gate; a blocked gate fails the task and
nothing downstream runs) -> indicators (dbt build with its tests + Spark graph job, for the feature
date the day completes) -> validate_features (Great Expectations suite of every feature table; a
failure stops this date here) -> materialize (Feast, validated partitions only) -> skew_check (online values
equal the offline point-in-time values for a sample of entities of every model's feature service).

Wiring only: every task calls a function of ``riskpipe.orchestration.daily`` with the run's logical
date, which is the landing day processed (see that module). Retries, timeouts, callbacks and the
deadline come from ``riskpipe.orchestration.policy`` (``RISKPIPE_AIRFLOW_*``).
"""

from __future__ import annotations

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from riskpipe.orchestration.policy import catchup, default_args, run_deadline, start_date

#: updated when a feature date's validated partitions are published / loaded online: downstream DAGs
#: (monitoring, retraining) can schedule on these instead of on the clock
FEATURES = Asset("riskpipe_features")
ONLINE_FEATURES = Asset("riskpipe_online_features")

#: ingest tasks, one per source (riskpipe.ingest.pipeline.ORDER; kept literal so parsing stays light)
INGEST_ORDER = ["customers", "applications", "repayments", "transactions", "device_events", "bureau", "chargebacks"]
#: riskpipe.ingest.pipeline.UPSTREAM: a source's gate checks references into these, so they go first
INGEST_UPSTREAM = {"applications": ["customers"], "repayments": ["applications"], "transactions": ["customers"],
                   "device_events": ["customers"], "bureau": ["customers"], "chargebacks": ["transactions"]}


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
    # in parallel, except along references (customers first, then what points at them)
    ingested = {source: ingest_task(source) for source in INGEST_ORDER}
    for source, t in ingested.items():
        landed >> t
        for up in INGEST_UPSTREAM.get(source, []):
            ingested[up] >> t

    @task
    def indicators(ds: str | None = None) -> dict:
        from riskpipe.orchestration.daily import indicators as build

        return build(ds)

    @task(outlets=[FEATURES])
    def validate_features(built: dict, ds: str | None = None) -> dict:
        from riskpipe.orchestration.daily import validate_features as gate

        return gate(ds, built)

    @task(outlets=[ONLINE_FEATURES])
    def materialize(ds: str | None = None) -> dict:
        from riskpipe.orchestration.daily import materialize as load_online

        return load_online(ds)

    @task
    def skew_check(ds: str | None = None) -> dict:
        from riskpipe.orchestration.daily import skew_check as compare

        return compare(ds)

    built = indicators()
    list(ingested.values()) >> built
    validate_features(built) >> materialize() >> skew_check()


risk_daily()
