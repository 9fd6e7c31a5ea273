"""riskpipe benchmarks: each bench_<name>.py measures a figure and its anchor in the same run."""


def spark_sizes(prefix: str, sizes: list[int], one) -> list[dict]:  # noqa: ANN001 (one: (rows, work) -> results)
    """Run ``one(rows, work)`` per size in a fresh temporary folder, stopping Spark and removing it after."""
    import shutil
    import tempfile
    from pathlib import Path

    out: list[dict] = []
    for rows in sizes:
        work = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            out += one(rows, work)
        finally:
            from pyspark.sql import SparkSession

            active = SparkSession.getActiveSession()
            if active is not None:
                active.stop()
            shutil.rmtree(work, ignore_errors=True)
    return out
