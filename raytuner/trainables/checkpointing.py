"""Per-step checkpoints of trainables: save a state with a report, restore it on (re)start.

Every trainable that reports per step uses these two functions inside its Tune
function trainable, so a paused (HyperBand), exploited (PBT/PB2) or retried trial
continues from the saved state instead of starting over::

    restored = restore()                    # None on a fresh start
    step = restored.step if restored else 0
    state = restored.state if restored else init()
    while step < n:
        step += 1
        state = train_one_step(state)
        report_step({"loss": ...}, step=step, state=state)

A checkpoint is a directory with ``raytuner.json`` (the step counter and the trial
that wrote it) and ``state.pkl`` (the pickled state). After a PBT exploit the
restored checkpoint is the donor's: the step counter and the state continue from
the donor's, with the mutated config.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

META_FILE = "raytuner.json"
STATE_FILE = "state.pkl"
STEP_KEY = "step"  # reported with every checkpointed step: the trainable's own step counter
ORIGIN_KEY = "state_origin"  # reported: the trial whose checkpoint this lineage continued from


@dataclass(frozen=True)
class Restored:
    step: int  # steps already done (the checkpoint's step counter)
    state: Any  # what the trainable saved
    trial_id: str | None  # the trial that wrote the checkpoint (a PBT donor, or itself)


def _trial_id() -> str | None:
    try:
        from ray import tune

        return str(tune.get_context().get_trial_id())
    except Exception:  # outside a Tune trial (unit tests of trainables)
        return None


def restore(load: Callable[[str, Any], Any] | None = None) -> Restored | None:
    """The latest checkpoint given to this trial by Tune (its own, or a PBT donor's).

    ``load(directory, state)``, if given, is called while the checkpoint's directory exists
    (files a trainable saved beside the state: see ``report_step``'s ``save``)."""
    from ray import tune

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as directory:
        meta_path = os.path.join(directory, META_FILE)
        if not os.path.exists(meta_path):
            return None  # not a raytuner checkpoint (e.g. written by user code): start fresh
        with open(meta_path) as f:
            meta = json.load(f)
        with open(os.path.join(directory, STATE_FILE), "rb") as f:
            state = pickle.load(f)
        if load is not None:
            load(directory, state)
    return Restored(step=int(meta["step"]), state=state, trial_id=meta.get("trial_id"))


def report_step(
    metrics: dict[str, Any], *, step: int, state: Any, checkpoint: bool = True,
    save: Callable[[str], Any] | None = None,
) -> None:
    """Report one step's metrics (plus ``step``) and, if ``checkpoint``, save ``state`` with it.

    ``save(directory)``, if given, writes files of its own into the new checkpoint's
    directory and returns the state to save (``state`` is then ignored)."""
    from ray import tune

    from raytuner.trainables.reporting import report

    metrics = {**metrics, STEP_KEY: step}
    if not checkpoint:
        report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="rtck") as directory:
        if save is not None:
            state = save(directory)
        with open(os.path.join(directory, META_FILE), "w") as f:
            json.dump({"step": step, "trial_id": _trial_id()}, f)
        with open(os.path.join(directory, STATE_FILE), "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
