"""The Ray Tune function trainable of a one-worker torch trial."""

from __future__ import annotations

from typing import Any

from raytuner.trainables.torch.loop import TrialSetup, prepare, train
from raytuner.trainables.torch.report import OverlappedTuneSession, TuneSession


def torch_trial(config: dict[str, Any], *, setup: TrialSetup) -> None:
    run = prepare(setup, config)
    train(run, OverlappedTuneSession() if run.spec.overlap_reports else TuneSession())
