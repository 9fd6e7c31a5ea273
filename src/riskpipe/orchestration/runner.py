"""Run the DAGs in-process with ``dag.test`` (no scheduler): ``riskpipe airflow run-daily`` and the tests.

``dag.test`` creates a real DagRun in the metadata database (SQLite or PostgreSQL) and runs its tasks
one by one in this process, honouring dependencies, retries (with their delay) and trigger rules, so
a run made here shows up in the Airflow UI exactly like a scheduled one. A range of dates is run one
date after the other, oldest first, which is what a backfill does; a failed date does not stop the
others (each date's run fails on its own).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from riskpipe.errors import RiskpipeError
from riskpipe.orchestration.airflow_env import apply_environ, get_airflow_settings, migrate

log = logging.getLogger(__name__)


class DagRunError(RiskpipeError):
    """A DAG cannot be loaded, or a run did not succeed."""


@dataclass
class RunResult:
    dag_id: str
    logical_date: str
    run_id: str
    state: str
    tasks: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Inclusive list of days; a reversed range is a usage error, not an empty run."""
    if end < start:
        raise DagRunError(f"end date {end} is before start date {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


_PREPARED: set[str] = set()


def prepare_airflow(run_migrations: bool = True) -> dict[str, str]:
    """Apply the Airflow environment and migrate its metadata once per process and database."""
    env = apply_environ()
    key = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if run_migrations and key not in _PREPARED:
        migrate(env)
        _PREPARED.add(key)
    return env


def load_dag(dag_id: str, dags_folder: Path | None = None) -> Any:
    """Parse the DAG folder and return one DAG, failing on any import error in the folder."""
    from airflow.dag_processing.dagbag import DagBag

    folder = dags_folder or get_airflow_settings().resolved_dags_folder()
    bag = DagBag(str(folder))
    if bag.import_errors:
        detail = "\n".join(f"{f}: {e.strip().splitlines()[-1]}" for f, e in bag.import_errors.items())
        raise DagRunError(f"DAG import errors in {folder}:\n{detail}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise DagRunError(f"no DAG {dag_id!r} in {folder}; found: {', '.join(sorted(bag.dag_ids))}")
    return dag


def task_states(dag_run: Any) -> tuple[dict[str, str], dict[str, int]]:
    """``task_id[map_index]`` -> final state, and -> number of tries, for one run."""
    from airflow.utils.session import create_session

    states: dict[str, str] = {}
    tries: dict[str, int] = {}
    with create_session() as session:
        for ti in dag_run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            states[key] = str(getattr(ti.state, "value", ti.state))
            tries[key] = int(ti.try_number or 0)
    return dict(sorted(states.items())), dict(sorted(tries.items()))


def run_dag(dag: Any, day: dt.date, conf: dict[str, Any] | None = None) -> RunResult:
    """One ``dag.test`` run for logical date ``day`` (00:00 UTC)."""
    import pendulum

    logical = pendulum.datetime(day.year, day.month, day.day, tz="UTC")
    log.info("running %s for %s", dag.dag_id, day)
    # Airflow 3.3.2's dag.test cannot finish a run of a DAG that has a DeadlineAlert: its in-memory
    # scheduler copy holds the serialized alerts where DagRun.update_state expects alert ids
    # ("'dict' object has no attribute 'hex'"). Deadlines are the scheduler's job (dag.test never
    # evaluates them), and the copy parsed into the metadata DB keeps its deadline, so only this
    # in-process object drops it.
    dag.deadline = None
    dr = dag.test(logical_date=logical, run_conf=conf)
    states, tries = task_states(dr)
    result = RunResult(
        dag_id=dag.dag_id,
        logical_date=day.isoformat(),
        run_id=dr.run_id,
        state=str(getattr(dr.state, "value", dr.state)),
        tasks=states,
        tries=tries,
    )
    log.info("%s %s: %s", dag.dag_id, day, result.state)
    return result


def run_dates(dag_id: str, days: list[dt.date], conf: dict[str, Any] | None = None) -> list[RunResult]:
    """Run ``dag_id`` for each day in order (a backfill), every date independent of the others."""
    prepare_airflow()
    dag = load_dag(dag_id)
    return [run_dag(dag, d, conf) for d in days]
