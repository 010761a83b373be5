"""Retry only what a retry can fix: a failed trial's error decides (``errors.retryable``).

Ray Tune 2.60 retries every failed trial up to ``FailureConfig.max_failures`` times,
whatever it raised: a TypeError in the objective or a SpecError runs again, fails
again, and costs a worker start each time. Tune has no per-error policy, so for the
time a Tuner runs (``tuner_environ``) raytuner narrows ``Trial.should_recover`` with
the error ``Trial.handle_error`` was given: a trial whose error cannot be fixed by
retrying (see ``raytuner.errors.PERMANENT_ERRORS``) fails at once, with Ray's own
error path otherwise unchanged (status ERROR, ``error.txt``/``error.pkl`` in the
trial directory, the searcher and scheduler told of the error). Transient errors
(a lost actor or node, OSError, RuntimeError) are retried as before.

Both methods are restored on exit. A canary unit test checks the two methods still
exist with these signatures, so a Ray upgrade that moves them fails loudly.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from raytuner.errors import retryable


@contextlib.contextmanager
def no_retry_for_permanent_errors() -> Iterator[set[str]]:
    """For the block, trials whose error is not retryable are not recovered.

    Yields the ids of the trials that failed that way (for tests and the summary)."""
    from ray.tune.experiment.trial import Trial

    handle_error, should_recover = Trial.handle_error, Trial.should_recover
    final: set[str] = set()

    def handle_error_noting_permanent(self: Any, exc: Any = None) -> None:
        handle_error(self, exc)
        if exc is not None and not self.is_restoring and not retryable(exc):
            final.add(self.trial_id)
        else:
            final.discard(self.trial_id)

    def should_recover_unless_permanent(self: Any) -> bool:
        return self.trial_id not in final and should_recover(self)

    Trial.handle_error = handle_error_noting_permanent  # type: ignore[method-assign]
    Trial.should_recover = should_recover_unless_permanent  # type: ignore[method-assign]
    try:
        yield final
    finally:
        Trial.handle_error = handle_error  # type: ignore[method-assign]
        Trial.should_recover = should_recover  # type: ignore[method-assign]
