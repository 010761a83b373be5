"""Ray's noise turned down for a block: environment variables and logger levels, restored after."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator, Mapping

QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",  # the old reporter honours verbose=0: no tables
    "RAY_DEDUP_LOGS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000000",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
}


# without --verbose: Tune does not log each failed trial's traceback (raytuner prints
# one grouped block of failures after the run; the tracebacks stay in the trial's
# error.txt); set only for the block, and a user's own value wins
QUIET_TRIAL_ERRORS_ENV = {"TUNE_PRINT_ALL_TRIAL_ERRORS": "0"}

QUIET_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.data")
# loggers whose ERROR records only repeat what raytuner reports itself (without --verbose):
# ray.tune.tune logs "Trials did not complete: [...]" after a run with failed trials
SILENT_LOGGERS = ("ray.tune.tune",)


@contextlib.contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables for the block; on exit (also on error) every one of them
    is as it was before. A variable already set (by the user) keeps its value; None
    sets nothing."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is not None and key not in os.environ:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def quiet_loggers(verbose: bool = False) -> Iterator[None]:
    """Ray's loggers at ERROR for the block (unless verbose); their levels restored on exit."""
    levels = {**{name: logging.ERROR for name in QUIET_LOGGERS}, **{name: logging.CRITICAL for name in SILENT_LOGGERS}}
    loggers = [logging.getLogger(name) for name in levels]
    saved = [logger.level for logger in loggers]
    try:
        if not verbose:
            for logger in loggers:
                logger.setLevel(levels[logger.name])
        yield
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)


@contextlib.contextmanager
def quiet_ray(verbose: bool = False) -> Iterator[None]:
    """Ray's noise turned down for the block (QUIET_ENV, log levels; without ``verbose``
    no trial tracebacks either); all restored on exit."""
    env = QUIET_ENV if verbose else {**QUIET_ENV, **QUIET_TRIAL_ERRORS_ENV}
    with scoped_environ(env), quiet_loggers(verbose):
        yield
