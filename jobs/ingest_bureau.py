"""Ingest one landing day of bureau into silver + quarantine (`spark-submit jobs/ingest_bureau.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("bureau"))
