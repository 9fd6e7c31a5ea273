"""Spark plumbing: session factory, partition I/O, atomic publication."""
