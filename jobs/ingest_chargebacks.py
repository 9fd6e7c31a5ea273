"""Ingest one landing day of chargebacks into silver + quarantine (`spark-submit jobs/ingest_chargebacks.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("chargebacks"))
