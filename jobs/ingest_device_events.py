"""Ingest one landing day of device_events into silver + quarantine (`spark-submit jobs/ingest_device_events.py --date D`)."""

import sys

from riskpipe.ingest.job import main

if __name__ == "__main__":
    sys.exit(main("device_events"))
