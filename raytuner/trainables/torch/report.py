"""Sessions: where a trial's epochs are reported and its checkpoints kept.

Ray Tune (one worker), Ray Train (each DDP worker; rank 0 writes the checkpoint),
or in-process (tests and benchmarks). All offer ``restore()`` (the latest
checkpoint's state or None) and ``report(metrics, state)``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from raytuner.trainables.torch import checkpoint as ckpt


class Session(Protocol):
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
    """Reports while the next epoch trains.

    Ray Tune's function trainables report synchronously: ``tune.report`` copies the
    checkpoint into the trial's storage, hands the result to the driver and blocks
    until the driver asks for the next one (scheduler, stoppers, loggers: tens of ms).
    Here the epoch's state is saved in the training thread (it must not change while
    being written), and a background thread makes the ``tune.report`` call while the
    next epoch trains. At most one report is in flight: the next report, and the end
    of training, wait for it. When Tune stops or pauses the trial, the report raises
    SystemExit in the background thread; the training loop sees ``interrupted()``
    between batches, and ``close()``/``report()`` re-raise it in the training thread,
    so the epoch trained meanwhile is dropped and never reported.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._raised: BaseException | None = None
        self._stopped = threading.Event()

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        self.close()
        directory = None
        if state is not None:
            directory = tempfile.mkdtemp(prefix="rt-ckpt-")
            ckpt.save(state, directory)
        self._thread = threading.Thread(target=self._deliver, args=(dict(metrics), directory),
                                        name="raytuner-report", daemon=True)
        self._thread.start()

    def _deliver(self, metrics: dict[str, Any], directory: str | None) -> None:
        from ray import tune

        from raytuner.trainables.reporting import report

        try:
            if directory is None:
                report(metrics)
            else:
                report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
        except BaseException as exc:  # SystemExit: Tune stopped the trial; anything else: an error
            self._raised = exc
            self._stopped.set()
        finally:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)

    def interrupted(self) -> bool:
        return self._stopped.is_set()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._raised is not None:
            raised, self._raised = self._raised, None
            raise raised


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
    """In-process: keeps the reports; checkpoints go to ``directory``/epoch-N."""

    def __init__(self, directory: str | Path | None = None, restore_from: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self.restore_from = Path(restore_from) if restore_from else None
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[Path] = []

    def restore(self) -> dict[str, Any] | None:
        return ckpt.load(self.restore_from) if self.restore_from else None

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        self.reports.append(dict(metrics))
        if state is not None and self.directory is not None:
            target = self.directory / f"epoch-{metrics['epoch']}"
            target.mkdir(parents=True, exist_ok=True)
            ckpt.save(state, target)
            self.checkpoints.append(target)
