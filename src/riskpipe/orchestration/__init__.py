"""Orchestration: the small functions Airflow tasks call, and the Airflow environment built from settings.

DAG files in ``dags/`` only wire these functions; each takes the run's logical date (the landing day
it processes) and returns a small JSON-able summary that Airflow keeps as the task's XCom.
"""
