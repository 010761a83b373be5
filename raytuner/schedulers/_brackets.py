"""Ray's HyperBand schedulers with a bracket that can be processed more than once.

Ray 2.60's ``HyperBandScheduler._process_bracket`` sets ``bracket.is_being_processed = True``
(so that the trials it stops do not re-enter it through ``on_trial_remove``) and never sets
it back. After a bracket's first halving, a trial that *finishes* on its own (a library's
early stopping, a trainable with fewer steps, an error) no longer triggers the halving the
bracket's paused trials wait for: they stay PAUSED and the run never ends (seen with
LightGBM's early_stopping_rounds under HyperBand). The flag is reset when processing ends.

A second gap: when the last trial still short of ``max_t`` in a bracket on its final rung
*finishes* (rather than reporting), ``on_trial_remove`` skips a bracket that is now finished,
so the trials PAUSED at ``max_t`` waiting for it are never stopped. They are stopped here.
Imported only when a scheduler is built (it imports Ray); module-level so Tune can pickle it.
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import HyperBandForBOHB, HyperBandScheduler


class _ReprocessedBrackets:
    def _process_bracket(self, tune_controller: Any, bracket: Any) -> str:
        try:
            return super()._process_bracket(tune_controller, bracket)  # type: ignore[misc]
        finally:
            bracket.is_being_processed = False

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_remove(tune_controller, trial)  # type: ignore[misc]
        bracket, _ = self._trial_info[trial]  # type: ignore[attr-defined]
        if bracket.finished() and not bracket.is_being_processed:
            self._process_bracket(tune_controller, bracket)  # stops the trials paused at max_t


class RaytunerHyperBand(_ReprocessedBrackets, HyperBandScheduler):
    """HyperBandScheduler whose brackets are halved again when a paused trial's peers finish."""


class RaytunerHyperBandForBOHB(_ReprocessedBrackets, HyperBandForBOHB):
    """HyperBandForBOHB, the same fix."""
