"""Ingest one landing day of applications into silver + quarantine (`spark-submit jobs/ingest_applications.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("applications"))
