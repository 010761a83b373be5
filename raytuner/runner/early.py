"""Ray's start-up beside the driver's own: ``raytuner run`` starts the local Ray in the
background as soon as nothing can refuse the run any more before Ray (spec, data,
resources, storage), so Ray's 3-4 s overlap the driver's imports (Ray Tune, the runner),
the preflight sample fit and the Tuner's set-up. The checks run again, cheaply, in
``run_experiment``; a run on a cluster (an address, RAY_ADDRESS) starts nothing here."""

from __future__ import annotations

import os
from typing import Any

from raytuner.results.storage import for_spec, probe
from raytuner.runner.resources import require_feasible_here
from raytuner.runner.session import begin_local_ray
from raytuner.runner.warm_workers import worker_modules


def start_ray_early(plan: Any, address: str | None, *, verbose: bool = False) -> bool:
    """Check what would refuse the run before Ray, then begin the local Ray's start in a
    thread; True when it began. Call it inside ``quiet_ray``."""
    import ray

    if address is not None or os.environ.get("RAY_ADDRESS") or ray.is_initialized():
        return False
    spec = plan.spec
    plan.trainable.check_data()  # a data mistake: refused, and Ray never starts
    require_feasible_here(plan.trainable.trial_resources(), address, spec.resources.wait_for_nodes_s)
    probe(for_spec(spec.storage), "write results to")
    begin_local_ray(verbose=verbose, preload=worker_modules(plan.trainable))  # runner.warm_workers
    warm_imports()
    return True


# What Tuner.fit imports on its first call, in the driver, after Ray is up: Ray Tune, and
# (for Ray's usage telemetry, which names the callbacks given) its logger integrations,
# mlflow's alone about 0.9 s. Imported while Ray starts, they cost no wall time.
WARM_IMPORTS = ("ray.tune", "ray.air.integrations.mlflow", "ray.air.integrations.wandb",
                "ray.air.integrations.comet", "ray.tune.logger.aim")


def warm_imports() -> None:
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional integration Ray does without
            pass
