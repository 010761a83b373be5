"""Per-trial resources for Ray Tune: a plain resource dict or a placement group.

``resources: {cpu, gpu}`` alone gives Tune's default (one bundle per trial, Ray's default
node choice). ``resources.placement`` reserves each trial's bundles as a Ray placement
group with that strategy (``tune.PlacementGroupFactory``): ``spread`` / ``strict_spread``
put the bundles on different nodes (best effort / required), ``pack`` / ``strict_pack`` on
as few nodes as possible (best effort / one node). A trial has one bundle of its own plus
``child_bundles`` for the Ray tasks and actors it starts; with a single bundle the strategy
has nothing to arrange and Ray's scheduler chooses the node (it spreads trials over idle
nodes on its own).
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


def child_bundle(resources: Any) -> dict[str, float]:
    bundle = {"CPU": float(resources.child_cpu)}
    if resources.child_gpu:
        bundle["GPU"] = float(resources.child_gpu)
    return bundle


def trial_resources(resources: Any) -> Any:
    """What ``tune.with_resources`` takes for a ResourcesSpec.

    The first bundle is the trial's own; ``child_bundles`` more are reserved for the Ray
    tasks and actors the trial starts (Tune captures them into the trial's placement group).
    """
    placement = getattr(resources, "placement", None)
    children = int(getattr(resources, "child_bundles", 0) or 0)
    if placement is None and not children:
        return {"cpu": resources.cpu, "gpu": resources.gpu}
    from ray import tune

    bundles = [trial_bundle(resources)] + [child_bundle(resources) for _ in range(children)]
    return tune.PlacementGroupFactory(bundles, strategy=STRATEGIES[placement or "pack"])
