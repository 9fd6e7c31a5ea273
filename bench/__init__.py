"""riskpipe benchmarks: each bench_<name>.py measures a figure and its anchor in the same run."""
