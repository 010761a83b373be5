"""Per-trial resources for Ray Tune: a plain resource dict or a placement group.

``resources: {cpu, gpu}`` alone gives Tune's default (one bundle per trial, Ray's default
node choice). ``resources.placement`` reserves each trial's bundle as a Ray placement
group with that strategy (``tune.PlacementGroupFactory``): ``spread`` / ``strict_spread``
ask Ray to put bundles on different nodes, ``pack`` / ``strict_pack`` to fill a node first.
"""

from __future__ import annotations

from typing import Any

STRATEGIES = {
    "pack": "PACK",
    "spread": "SPREAD",
    "strict_pack": "STRICT_PACK",
    "strict_spread": "STRICT_SPREAD",
}


def trial_bundle(resources: Any) -> dict[str, float]:
    bundle = {"CPU": float(resources.cpu)}
    if resources.gpu:
        bundle["GPU"] = float(resources.gpu)
    return bundle


def trial_resources(resources: Any) -> Any:
    """What ``tune.with_resources`` takes for a ResourcesSpec."""
    placement = getattr(resources, "placement", None)
    if placement is None:
        return {"cpu": resources.cpu, "gpu": resources.gpu}
    from ray import tune

    return tune.PlacementGroupFactory([trial_bundle(resources)], strategy=STRATEGIES[placement])
