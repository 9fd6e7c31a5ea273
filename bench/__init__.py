"""riskpipe benchmarks: each bench_<name>.py measures a figure and its anchor in the same run."""

from __future__ import annotations

import collections
import os
from pathlib import Path


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


def concat_landing(spec, files: list[Path], folder: Path, name: str) -> None:  # noqa: ANN001 (SourceSpec)
    """Write ``files`` (one source, several landing days) into ``folder`` as one file of the source's
    format. A file that cannot join (another CSV header, an unreadable or different Parquet file) is
    linked beside it as it is, so the pipeline treats it exactly as on its own day."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    apart: list[Path] = []
    if spec.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for f in files:
            try:
                t = pq.read_table(f)
            except Exception:  # noqa: BLE001 - the pipeline quarantines such a file itself
                apart.append(f)
                continue
            if tables and t.schema != tables[0].schema:
                apart.append(f)
                continue
            tables.append(t)
        if tables:
            pq.write_table(pa.concat_tables(tables), out)
    else:
        headers = {}
        if spec.format == "csv":
            for f in files:
                with open(f, "rb") as fh:
                    headers[f] = fh.readline()
        common = collections.Counter(headers.values()).most_common(1)[0][0] if headers else None
        with open(out, "wb") as dst:
            if common is not None:
                dst.write(common)
            for f in files:
                if spec.format == "csv" and headers[f] != common:
                    apart.append(f)
                    continue
                data = f.read_bytes()
                if spec.format == "csv":
                    data = data[len(headers[f]):]
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                dst.write(data)
    for f in apart:
        os.link(f, folder / f.name)
