"""Ingest one landing day of transactions into silver + quarantine (`spark-submit jobs/ingest_transactions.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("transactions"))
