"""Face: running on a remote Ray cluster. ``jobs`` (submit, status, logs, stop, fetch through
the Jobs API), ``remote`` (what a submitted job runs there), ``workdir`` (what gets packaged),
``local`` (a head and workers on this machine, for trying it out and for tests)."""
