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
    begin_local_ray(verbose=verbose)
    warm_imports()
    return True


# What Tuner.fit imports on its first call, in the driver, after Ray is up: Ray Tune. Imported
# while Ray starts, it costs no wall time.
WARM_IMPORTS = ("ray.tune",)

# Ray's usage telemetry names the callbacks a Tuner is given by importing every logger
# integration's module to compare classes (ray.air._internal.usage._count_callbacks):
# mlflow's alone is ~0.9 s of CPU, W&B's, Comet's and Aim's more, on every first fit of a
# process that tracks nothing. Their class names are the same tags without the imports.
_BUILT_IN_CALLBACKS = ("WandbLoggerCallback", "MLflowLoggerCallback", "CometLoggerCallback",
                       "AimLoggerCallback", "CSVLoggerCallback", "JsonLoggerCallback", "TBXLoggerCallback")


def warm_imports() -> None:
    import importlib

    for name in WARM_IMPORTS:
        importlib.import_module(name)


def light_usage_tags() -> None:
    """Ray's callback usage tag recorded as Ray records it, by class name, without importing
    the logger integrations it compares against (idempotent)."""
    from ray.air._internal import usage

    if getattr(usage.tag_callbacks, "raytuner", False):
        return

    def tag_callbacks(callbacks: Any) -> bool:
        import collections
        import json

        from ray.tune import Callback
        from ray.tune.logger import LoggerCallback

        if not callbacks:
            return False
        counts: dict[str, int] = collections.defaultdict(int)
        for callback in callbacks:
            if not isinstance(callback, Callback):
                continue
            name = type(callback).__name__
            if name in _BUILT_IN_CALLBACKS:
                counts[name] += 1
            else:
                counts["CustomLoggerCallback" if isinstance(callback, LoggerCallback) else "CustomCallback"] += 1
        if counts:
            usage.record_extra_usage_tag(usage.TagKey.AIR_CALLBACKS, json.dumps(counts))
        return True

    tag_callbacks.raytuner = True  # type: ignore[attr-defined]
    usage.tag_callbacks = tag_callbacks
