"""The entry point behind ``jobs/ingest_<source>.py``: the same code under ``python`` and ``spark-submit``.

``spark-submit --master spark://host:7077 jobs/ingest_transactions.py --date 2026-01-03`` runs
:func:`riskpipe.ingest.pipeline.ingest_day` in the submitted driver; the session comes from
:func:`riskpipe.spark.session.get_spark`, which joins the one spark-submit created (master, conf and
resources are the submitter's choice, not the job's). Prints one JSON line with the run's counts.
Exit codes: 0 published, 1 a clear riskpipe error (message on stderr), 3 gate blocked publication.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def main(source: str, argv: list[str] | None = None) -> int:
    from riskpipe.errors import RiskpipeError
    from riskpipe.logs import configure_logging

    parser = argparse.ArgumentParser(prog=f"ingest_{source}", description=f"ingest one landing day of {source}")
    parser.add_argument("--date", required=True, help="landing date YYYY-MM-DD")
    parser.add_argument("--no-gate", action="store_true", help="publish without the quality gate")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"error: --date must be YYYY-MM-DD, got {args.date!r}", file=sys.stderr)
        return 1
    from riskpipe.ingest.pipeline import PublicationBlocked, default_gate, ingest_day

    try:
        result = ingest_day(source, day, gate=None if args.no_gate else default_gate())
    except PublicationBlocked as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except RiskpipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in result.as_dict().items() if k != "files"}, sort_keys=True))
    return 0
