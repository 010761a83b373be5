"""Trial worker processes booted and imported before the trials ask for them.

A Ray Tune trial is an actor, and an actor takes an *idle* worker process of the raylet when
one is there (a worker that has run tasks or another actor is not reused: every trial of a
run without ``reuse_actors`` costs a process). What a trial pays first is that process's
boot (~1 s here) and its imports: Ray Tune's function trainable, raytuner's trial code,
scikit-learn's estimator module or torch (~1-3 s). Two Ray features move both off the
trials' path:

- ``preload_python_modules`` (a raylet setting, given when this process starts its local
  Ray): every worker the raylet starts imports those modules right after it boots, before
  it is handed any work. ``worker_modules(trainable)`` names them; a module that does not
  import is skipped by Ray (its worker still starts).
- Ray prestarts one worker per CPU for the first driver of a raylet. A later run in the same
  process (a second ``TuneSearchCV.fit``, a notebook's next ``raytuner.run``) gets none:
  ``prestart(n)`` asks the raylet for them with Ray's own ``PrestartWorkers`` RPC (exposed
  to no Python API; best effort: a failure leaves the trials to boot their workers), in a
  thread, while the driver builds its Tuner.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

# what every Tune trial imports before the user's code runs (Tune's function trainable)
BASE_MODULES = ("ray.tune",)


def worker_modules(trainable: Any) -> tuple[str, ...]:
    """The modules a trial of this trainable imports first (``Trainable.worker_modules``),
    after Ray Tune's own; no duplicates, order kept."""
    names = [*BASE_MODULES, *trainable.worker_modules()]
    return tuple(dict.fromkeys(name for name in names if name))


def preload_config(modules: Sequence[str]) -> dict[str, Any]:
    """The ``_system_config`` of a local Ray whose workers import ``modules`` at boot."""
    return {"preload_python_modules": list(modules)} if modules else {}


def prestart(num_workers: int, *, keep_alive_s: int = 60,
             metadata: Callable[[], Sequence[tuple[str, str]]] | None = None) -> threading.Thread | None:
    """Ask this driver's raylet to boot ``num_workers`` worker processes for this job now, in
    a thread; they wait idle up to ``keep_alive_s``. ``metadata``: the gRPC authentication
    metadata (default: Ray's own, read from the token this process loaded). Returns the thread."""
    if num_workers < 1:
        return None

    def run() -> None:
        try:
            request_workers(num_workers, keep_alive_s, metadata)
        except Exception:  # noqa: BLE001 - an optimisation only
            pass

    thread = threading.Thread(target=run, name="raytuner-prestart", daemon=True)
    thread.start()
    return thread


def request_workers(num_workers: int, keep_alive_s: int,
                    metadata: Callable[[], Sequence[tuple[str, str]]] | None = None) -> None:
    """The ``PrestartWorkers`` call itself (raises what fails), for this driver's job on its node."""
    import grpc
    import ray
    from ray.core.generated import common_pb2, node_manager_pb2, node_manager_pb2_grpc

    context = ray.get_runtime_context()
    node = next(n for n in ray.nodes() if n["Alive"] and n["NodeID"] == context.get_node_id())
    request = node_manager_pb2.PrestartWorkersRequest(
        language=common_pb2.PYTHON, job_id=ray.JobID.from_hex(context.get_job_id()).binary(),
        keep_alive_duration_secs=keep_alive_s, num_workers=num_workers)
    auth = list(metadata() if metadata is not None else _ray_metadata())
    with grpc.insecure_channel(f"{node['NodeManagerAddress']}:{node['NodeManagerPort']}") as channel:
        node_manager_pb2_grpc.NodeManagerServiceStub(channel).PrestartWorkers(request, metadata=auth, timeout=10)


def _ray_metadata() -> Sequence[tuple[str, str]]:
    try:
        from ray._private.authentication.grpc_authentication_client_interceptor import (
            _get_authentication_metadata_tuple,
        )
    except ImportError:  # another Ray: no token auth to add
        return ()
    return _get_authentication_metadata_tuple()


def trial_slots(plan: Any) -> int:
    """How many of the plan's trials run at once on this Ray: its CPUs over a trial's, at most
    ``budget.max_concurrent`` and the number of trials (a trial asking for a placement group
    or no CPU counts as one CPU)."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1))
    request = plan.trainable.trial_resources()
    per_trial = float(request.get("cpu", request.get("CPU", 1))) if isinstance(request, dict) else 1.0
    slots = int(cpus // per_trial) if per_trial > 0 else int(cpus)
    limit = plan.spec.budget.max_concurrent or slots
    return max(1, min(slots, limit, plan.num_samples))
