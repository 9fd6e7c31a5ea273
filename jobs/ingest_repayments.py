"""Ingest one landing day of repayments into silver + quarantine (`spark-submit jobs/ingest_repayments.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("repayments"))
