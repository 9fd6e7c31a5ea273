"""risk_retrain: retrain each risk model on its Feast feature service, then gate the champion.

Per model (``RISKPIPE_AIRFLOW_RETRAIN_MODELS``): ``train_<model>`` builds the point-in-time training
set of the label dates in the ``RISKPIPE_AIRFLOW_RETRAIN_WINDOW_DAYS`` before the logical date (labels
known by the logical date only), trains the scorecard and LightGBM candidates and registers the
better one as ``challenger``; ``promote_<model>`` moves ``champion`` only when the challenger wins out
of time and passes the stability and calibration gates (every move is kept in the alias history).
A model without matured labels in the window is skipped with the reason, and its promotion with it.

Wiring only: tasks call ``riskpipe.orchestration.retrain``. Weekly by default
(``RISKPIPE_AIRFLOW_RETRAIN_SCHEDULE``); also triggered by hand or by ``riskpipe airflow run``.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from riskpipe.orchestration.airflow_env import get_airflow_settings
from riskpipe.orchestration.policy import default_args, run_deadline, start_date

MODELS = get_airflow_settings().retrain_models


@dag(
    dag_id="risk_retrain",
    schedule=CronDataIntervalTimetable(get_airflow_settings().retrain_schedule, timezone="UTC"),
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    deadline=run_deadline(),
    tags=["riskpipe", "models", "retrain"],
    doc_md=__doc__,
)
def risk_retrain() -> None:
    def model_tasks(model: str) -> None:
        @task(task_id=f"train_{model}", doc_md=f"feature store -> training set -> MLflow challenger for {model}")
        def train(ds: str | None = None) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from riskpipe.orchestration.retrain import NothingToTrain
            from riskpipe.orchestration.retrain import train as train_model

            try:
                return train_model(ds, model)
            except NothingToTrain as err:
                raise AirflowSkipException(str(err)) from err

        @task(task_id=f"promote_{model}", doc_md=f"champion/challenger gate for {model}")
        def promote(ds: str | None = None) -> dict:
            from riskpipe.orchestration.retrain import promote as promote_model

            return promote_model(ds, model)

        train() >> promote()

    for model in MODELS:
        model_tasks(model)


risk_retrain()
