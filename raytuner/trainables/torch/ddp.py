"""Data-parallel trials: a Ray Train TorchTrainer (DDP) launched from inside the Tune trial.

Ray 2.60 runs Train V2: a Trainer is no longer given to the Tuner. The Tune trial
is a light driver (it reserves no CPU) that fits a TorchTrainer in a Ray task,
with ``workers`` workers of ``resources.cpu``/``resources.gpu`` each (gloo on CPU,
nccl on GPU); when Tune stops the trial early the task is cancelled, which ends
the Train controller and its workers too (nothing keeps running on a reused actor). Rank 0's report and checkpoint reach the driver through a Ray
Train callback and a queue; the driver reports them to Tune, so schedulers
(ASHA, PBT) and failure retries see a normal trial with normal checkpoints. A
restored trial hands Tune's checkpoint to the workers to resume from.
"""

from __future__ import annotations

import logging
import queue as _queue
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raytuner.trainables.torch.loop import TrialSetup

_DONE = "__done__"
log = logging.getLogger("raytuner.torch")


def ddp_worker(loop_config: dict[str, Any]) -> None:
    """One DDP worker: the usual loop on its shard of the data."""
    import ray
    import ray.train
    import torch

    from raytuner.spec.code import use_code_dirs
    from raytuner.trainables.torch.loop import Distributed, prepare, train
    from raytuner.trainables.torch.report import TrainSession

    use_code_dirs(loop_config.get("code_dirs", ()))  # modules beside the spec, as in the trial
    setup: TrialSetup = loop_config["setup"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = None
    if setup.gpus > 0 and torch.cuda.is_available():
        import ray.train.torch

        device = ray.train.torch.get_device()
    if rank == 0 and loop_config.get("queue") is not None:
        # the driver removes this group if the trial is stopped, so no worker outlives it
        loop_config["queue"].put({"placement_group": ray.util.get_current_placement_group()})
    run = prepare(setup, loop_config["config"], Distributed(rank=rank, world=world, device=device))
    train(run, TrainSession(rank, resume=loop_config.get("resume")))


def _forwarder(q: Any) -> Any:
    from ray.train.v2.api.callback import UserCallback

    class ForwardToTune(UserCallback):
        """Runs in the Train controller: passes rank 0's metrics and checkpoint to the driver."""

        def __init__(self, q: Any) -> None:
            self.q = q

        def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
            item = {"metrics": dict(metrics[0])}
            if checkpoint is not None:
                item["checkpoint"] = (checkpoint.path, checkpoint.filesystem)
            self.q.put(item)

    return ForwardToTune(q)


def _train_storage() -> str:
    """Where the TorchTrainer keeps its run: inside this trial's directory in the experiment storage."""
    try:
        from ray.train._internal.session import get_session

        storage = get_session().storage
        return f"{storage.storage_path}/{storage.experiment_dir_name}/{storage.trial_dir_name}"
    except Exception:  # pragma: no cover - Ray internals moved: fall back to the local trial dir
        from ray import tune

        return tune.get_context().get_trial_dir()


def _fit(setup: "TrialSetup", config: dict[str, Any], workers: int, storage: str, resume: Any, q: Any,
         dirs: tuple[str, ...] = ()) -> None:
    """Runs as a Ray task: build and fit the TorchTrainer. Cancelling the task (the Tune
    trial stopped or failed) ends its Train controller and workers with it."""
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    use_gpu = setup.gpus > 0
    resources = {"CPU": setup.cpus, **({"GPU": setup.gpus} if use_gpu else {})}
    try:
        trainer = TorchTrainer(
            ddp_worker,
            # Train V2 has no resume_from_checkpoint: the workers get Tune's checkpoint themselves
            train_loop_config={"config": config, "setup": setup, "resume": resume, "queue": q,
                               "code_dirs": dirs},
            torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
            scaling_config=ray.train.ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker=resources),
            run_config=ray.train.RunConfig(
                name=f"ddp-{uuid.uuid4().hex[:8]}",
                storage_path=storage,
                callbacks=[_forwarder(q)],
                checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
                failure_config=ray.train.FailureConfig(max_failures=0),  # Tune retries the trial
            ),
        )
        trainer.fit()
    finally:
        q.put(_DONE)


def ddp_trial(config: dict[str, Any], *, setup: "TrialSetup", workers: int) -> None:
    """The Tune trial of a data-parallel run: start the TorchTrainer, relay its reports."""
    import ray
    from ray import tune
    from ray.util.queue import Empty, Queue

    from raytuner.spec.code import code_dirs
    from raytuner.trainables.reporting import report

    q = Queue(actor_options={"num_cpus": 0})
    fit = ray.remote(num_cpus=0, max_retries=0)(_fit)
    ref = fit.remote(setup, config, workers, _train_storage(), tune.get_checkpoint(), q, code_dirs())
    finished = False
    group = None
    try:
        while True:
            try:
                item = q.get(timeout=1.0)
            except (Empty, _queue.Empty):
                if ray.wait([ref], timeout=0)[0] and q.empty():
                    break
                continue
            if item == _DONE:
                break
            if "placement_group" in item:
                group = item["placement_group"]
            elif "checkpoint" in item:
                path, filesystem = item["checkpoint"]
                report(item["metrics"], checkpoint=tune.Checkpoint(path, filesystem=filesystem))
            else:
                report(item["metrics"])
        ray.get(ref)  # raises what failed in training
        finished = True
    finally:
        if not finished:  # stopped by Tune (a scheduler, a stopper) or failed: end the workers
            _best_effort(ray.cancel, ref, force=True)  # the task, and the Train controller it owns
            if group is not None:  # Train's own cleaner needs the state API; don't rely on it
                _best_effort(ray.util.remove_placement_group, group)
        _best_effort(ray.kill, q.actor)


def _best_effort(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Clean-up that must not hide the error (or stop) that caused it."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # already gone, or Ray is shutting down
        log.debug("DDP clean-up %s failed: %s", getattr(fn, "__name__", fn), exc)
