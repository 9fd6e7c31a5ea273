"""Ingest one landing day of customers into silver + quarantine (`spark-submit jobs/ingest_customers.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("customers"))
