"""Face: the ``raytuner`` command. Argument parsing and printing only; ``main`` holds the
experiment commands, ``cluster`` the submit/jobs/fetch/cluster commands."""
