"""The nightly job: every stage in order (ingest: the runs table), stages as picklable
tasks for local processes or Dask (tasks), worker threads that stop with the run
(threads), and one writer at a time (lock).
"""
