"""Sessions: where a trial's epochs are reported and its checkpoints kept.

Ray Tune (one worker), Ray Train (each DDP worker; rank 0 writes the checkpoint),
or in-process (tests and benchmarks). All offer ``restore()`` (the latest
checkpoint's state or None) and ``report(metrics, state)``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from raytuner.trainables.torch import checkpoint as ckpt


class Session(Protocol):
    interruptible: bool  # False: interrupted() is always False (the loop does not ask per batch)

    def restore(self) -> dict[str, Any] | None: ...

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None: ...

    def interrupted(self) -> bool: ...  # stop training now (checked between batches)

    def close(self) -> None: ...  # every report delivered (raises what delivering raised)


def _load(checkpoint: Any) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as directory:
        return ckpt.load(directory)


class _Synchronous:
    # whether interrupted() can ever be true: the loop skips the per-batch check otherwise
    interruptible = False

    def interrupted(self) -> bool:
        return False

    def close(self) -> None:
        return None


class TuneSession(_Synchronous):
    """Inside a Ray Tune function trainable; each report waits for the driver."""

    def restore(self) -> dict[str, Any] | None:
        from ray import tune

        return _load(tune.get_checkpoint())

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        from ray import tune

        from raytuner.trainables.reporting import report

        if state is None:
            report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="rt-ckpt-") as directory:
            ckpt.save(state, directory)
            report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))


class OverlappedTuneSession(TuneSession):
    """Reports, and writes the checkpoint, while the next epoch trains.

    Ray Tune's function trainables report synchronously: ``tune.report`` copies the
    checkpoint into the trial's storage, hands the result to the driver and blocks
    until the driver asks for the next one (scheduler, stoppers, loggers: tens of ms).
    Here the training thread only takes a copy of the epoch's state (its tensors
    flattened to the CPU: ``checkpoint.pack``); a background thread writes it to a
    temporary directory and then makes the ``tune.report`` call naming it, so the
    checkpoint Tune copies is always complete and the report order is the epoch order.
    At most one report is in flight: the next report, and the end of training, wait
    for it. When Tune stops or pauses the trial, the report raises SystemExit in the
    background thread; the training loop sees ``interrupted()`` between batches, and
    ``close()``/``report()`` re-raise it in the training thread, so the epoch trained
    meanwhile is dropped and never reported.
    """

    interruptible = True

    def __init__(self) -> None:
        self._jobs = ckpt.Background("raytuner-report")

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        self._jobs.submit(self._deliver, dict(metrics), None if state is None else ckpt.pack(state))

    def _deliver(self, metrics: dict[str, Any], state: ckpt.Packed | None) -> None:
        from ray import tune

        from raytuner.trainables.reporting import report

        if state is None:
            report(metrics)
            return
        directory = tempfile.mkdtemp(prefix="rt-ckpt-")
        try:
            ckpt.save(state, directory)
            report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def interrupted(self) -> bool:
        return self._jobs.failed()

    def close(self) -> None:
        self._jobs.wait()


class TrainSession(_Synchronous):
    """Inside a Ray Train worker: every rank reports, rank 0 with the checkpoint."""

    def __init__(self, rank: int, resume: Any = None) -> None:
        self.rank = rank
        self.resume = resume  # the Tune trial's checkpoint, when the trial was restored

    def restore(self) -> dict[str, Any] | None:
        import ray.train

        return _load(ray.train.get_checkpoint() or self.resume)

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        import ray.train

        if state is None or self.rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="rt-ckpt-") as directory:
            ckpt.save(state, directory)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


class LocalSession(_Synchronous):
    """In-process: keeps the reports; checkpoints go to ``directory``/epoch-N.

    ``background=True`` (the default): the state is packed (copied) in the training thread
    and written by a background thread while the next epoch trains; ``checkpoints``
    lists a directory once its file is complete, and ``close()`` (the end of
    ``train``) waits for the last write. A write that fails stops training at the next
    batch and is raised by ``close()``/the next ``report()``."""

    interruptible = True  # a failed background write (and subclasses in tests) stop training

    def __init__(self, directory: str | Path | None = None, restore_from: str | Path | None = None,
                 *, background: bool = True) -> None:
        self.directory = Path(directory) if directory else None
        self.restore_from = Path(restore_from) if restore_from else None
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[Path] = []
        self._jobs = ckpt.Background("raytuner-checkpoint") if background else None

    def restore(self) -> dict[str, Any] | None:
        return ckpt.load(self.restore_from) if self.restore_from else None

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        self.reports.append(dict(metrics))
        if state is None or self.directory is None:
            return
        target = self.directory / f"epoch-{metrics['epoch']}"
        if self._jobs is None:
            self._write(state, target)
        else:
            self._jobs.submit(self._write, ckpt.pack(state), target)

    def _write(self, state: dict[str, Any] | ckpt.Packed, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        ckpt.save(state, target)
        self.checkpoints.append(target)

    def interrupted(self) -> bool:
        return self._jobs is not None and self._jobs.failed()

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.wait()
