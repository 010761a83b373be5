"""Refuse in seconds a trial that no node of the cluster can ever hold.

Ray keeps an infeasible request pending forever, silently (only its autoscaler logs "No
available node types can fulfill resource request"). After Ray is up and before any
trial starts, ``require_feasible`` compares one trial's request (``tune.with_resources``
takes a dict or a placement group factory: its bundles and strategy) with what the
alive nodes offer, node by node, since a bundle must fit on one node:

- every bundle fits some node, and all of them fit the cluster's total;
- ``strict_pack``: all bundles together fit one node;
- ``strict_spread``: each bundle gets a node of its own (a matching).

These are necessary conditions only, so a trial that may fit is never refused. When
nothing fits it waits for a node to join, up to ``resources.wait_for_nodes_s`` (default:
300 s when the cluster's autoscaler has a node type that fits the trial, and it is asked
for one; otherwise 0), printing what it waits for, then fails with the same message.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TextIO

from raytuner.errors import ClusterError

AUTOSCALER_WAIT_S = 300.0
_MEMORY = ("memory", "object_store_memory")
_DICT_KEYS = {"cpu": "CPU", "gpu": "GPU"}  # tune.with_resources' dict form -> Ray's resource names


class InfeasibleResources(ClusterError):
    """No node of the cluster (nor any node type its autoscaler can add) can hold one trial."""


@dataclass(frozen=True)
class NodeOffer:
    """What one node (or one node type an autoscaler can add) offers."""

    name: str
    resources: Mapping[str, float]

    def has(self, bundle: Mapping[str, float]) -> bool:
        return all(self.resources.get(k, 0.0) + 1e-9 >= v for k, v in bundle.items())


@dataclass(frozen=True)
class TrialRequest:
    """One trial's bundles (the first is the trial's own) and their placement strategy."""

    bundles: tuple[Mapping[str, float], ...]
    strategy: str = "PACK"

    @property
    def total(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for bundle in self.bundles:
            for k, v in bundle.items():
                out[k] = out.get(k, 0.0) + v
        return out


@dataclass(frozen=True)
class Shortfall:
    """Why a trial cannot be placed: the spec field, the resource, what was asked and the most offered."""

    field: str
    resource: str
    asked: float
    largest: float
    why: str
    advice: str = ""

    def message(self, nodes: Sequence[NodeOffer]) -> str:
        offers = "; ".join(f"{n.name}: {describe(n.resources)}" for n in nodes[:4]) or "none"
        more = f" and {len(nodes) - 4} more" if len(nodes) > 4 else ""
        text = f"{self.field}: {self.why} (nodes: {offers}{more})"
        return f"{text}; {self.advice}" if self.advice else text


@dataclass
class Waiting:
    """What a wait printed (tests read it); ``asked``: whether the autoscaler was asked for nodes."""

    seconds: float = 0.0
    asked: bool = False
    lines: list[str] = field(default_factory=list)


def amount(resource: str, value: float) -> str:
    if resource in _MEMORY:
        return f"{value / 2**30:.2g} GiB {resource.replace('_', ' ')}"
    return f"{value:g} {resource}"


def describe(resources: Mapping[str, float]) -> str:
    """'2 CPU, 0 GPU, 16 GiB memory' (memory and custom resources only when offered or asked for)."""
    keys = ["CPU", "GPU"] + sorted(k for k in resources if k not in ("CPU", "GPU", "object_store_memory")
                                   and not k.startswith("node:"))
    return ", ".join(amount(k, float(resources.get(k, 0.0))) for k in keys)


def trial_request(resources: Any) -> TrialRequest:
    """The bundles of what ``Trainable.trial_resources()`` returns (a dict or a PlacementGroupFactory)."""
    if hasattr(resources, "bundles"):
        bundles = tuple({str(k): float(v) for k, v in b.items() if v} for b in resources.bundles)
        return TrialRequest(bundles, str(getattr(resources, "strategy", "PACK")))
    bundle: dict[str, float] = {}
    for key, value in dict(resources).items():
        if isinstance(value, Mapping):  # custom resources
            bundle.update({str(k): float(v) for k, v in value.items() if v})
        elif value:
            bundle[_DICT_KEYS.get(key, key)] = float(value)
    return TrialRequest((bundle,))


def _field(index: int, resource: str) -> str:
    names = {"CPU": "cpu", "GPU": "gpu"}
    if resource not in names:
        return "resources"
    return f"resources.{names[resource]}" if index == 0 else f"resources.child_{names[resource]}"


def _advice(resource: str, largest: float, field_name: str) -> str:
    if resource == "GPU" and largest == 0:
        return (f"set {field_name}: 0 to train on CPUs, or run on a cluster with GPU nodes "
                "(--address; resources.wait_for_nodes_s waits for one to join)")
    if resource in ("CPU", "GPU"):
        return (f"ask for at most {largest:g} ({field_name}), or run on a cluster with bigger nodes "
                "(resources.wait_for_nodes_s waits for one to join)")
    return "ask for less, or run on a cluster with bigger nodes"


def shortfall(request: TrialRequest, nodes: Sequence[NodeOffer]) -> Shortfall | None:
    """Why no placement of ``request`` on ``nodes`` can exist, or None when one may."""
    for index, bundle in enumerate(request.bundles):
        for resource, asked in bundle.items():
            largest = max((n.resources.get(resource, 0.0) for n in nodes), default=0.0)
            if largest + 1e-9 < asked:
                where = "each trial" if index == 0 else f"each of a trial's child bundles (#{index})"
                have = f"the largest node offers {amount(resource, largest)}" if largest else f"no node has any {resource}"
                name = _field(index, resource)
                return Shortfall(name, resource, asked, largest,
                                 f"{where} asks for {amount(resource, asked)}, but {have}", _advice(resource, largest, name))
        if not any(n.has(bundle) for n in nodes):
            return Shortfall("resources", "bundle", 0.0, 0.0,
                             f"no single node offers all of {describe(bundle)} at once (bundle #{index})",
                             "ask for less, or run on a cluster with bigger nodes")
    strategy = request.strategy.upper()
    total = request.total
    if strategy == "STRICT_PACK" and not any(n.has(total) for n in nodes):
        short = [k for k, v in total.items() if not any(n.has({k: v}) for n in nodes)]
        resource = short[0] if short else "bundle"
        largest = max((n.resources.get(resource, 0.0) for n in nodes), default=0.0)
        return Shortfall("resources.placement", resource, total.get(resource, 0.0), largest,
                         f"strict_pack puts a trial's {len(request.bundles)} bundles ({describe(total)}) on one node, "
                         "and no node offers that much", "use placement: pack, or fewer child bundles")
    if strategy == "STRICT_SPREAD" and _matching(request.bundles, nodes) < len(request.bundles):
        return Shortfall("resources.placement", "nodes", float(len(request.bundles)), float(len(nodes)),
                         f"strict_spread puts each of a trial's {len(request.bundles)} bundles on a node of its own, "
                         f"and only {_matching(request.bundles, nodes)} nodes can hold one",
                         "use placement: spread, or fewer child bundles")
    for resource, asked in total.items():
        whole = sum(n.resources.get(resource, 0.0) for n in nodes)
        if whole + 1e-9 < asked:
            return Shortfall("resources.child_bundles", resource, asked, whole,
                             f"a trial's {len(request.bundles)} bundles ask for {amount(resource, asked)} in all, "
                             f"but the whole cluster offers {amount(resource, whole)}", "ask for fewer child bundles")
    return None


def _matching(bundles: Sequence[Mapping[str, float]], nodes: Sequence[NodeOffer]) -> int:
    """The most bundles that can each get a node of their own (bipartite matching)."""
    owner: dict[int, int] = {}

    def place(b: int, seen: set[int]) -> bool:
        for n, node in enumerate(nodes):
            if n in seen or not node.has(bundles[b]):
                continue
            seen.add(n)
            if n not in owner or place(owner[n], seen):
                owner[n] = b
                return True
        return False

    return sum(place(b, set()) for b in range(len(bundles)))


# -- the cluster, as Ray reports it ------------------------------------------------


def alive_nodes() -> list[NodeOffer]:
    import ray

    return [NodeOffer(str(n.get("NodeManagerAddress") or n.get("NodeID")), dict(n.get("Resources") or {}))
            for n in ray.nodes() if n.get("Alive")]


def autoscaler_node_types() -> list[NodeOffer] | None:
    """The node types an autoscaler (cluster launcher, KubeRay) can still add; None without one."""
    try:
        import ray._private.state

        config = ray._private.state.state.get_cluster_config()
    except Exception:  # no config published, an older GCS, Ray Client...
        return None
    if not config or not config.node_group_configs:
        return None
    return [NodeOffer(str(g.name or "node type"), {str(k): float(v) for k, v in g.resources.items()})
            for g in config.node_group_configs if g.resources and g.max_count != 0]


def _ask_autoscaler(bundles: Sequence[Mapping[str, float]] | None) -> None:
    """Ask the autoscaler for nodes that fit ``bundles`` (None: withdraw the request); a hint only."""
    from ray.autoscaler.sdk import request_resources

    try:
        request_resources(bundles=[dict(b) for b in bundles] if bundles else [])
    except Exception:  # noqa: BLE001 - an autoscaler that refuses the hint still scales on Tune's demand
        pass


def this_machine() -> NodeOffer | None:
    """The CPUs and GPUs a local Ray started here would offer, read without starting it;
    None when Ray would join a cluster instead (RAY_ADDRESS, or already initialised)."""
    import ray

    if os.environ.get("RAY_ADDRESS") or ray.is_initialized():
        return None
    from ray._private.accelerators import get_accelerator_manager_for_resource
    from ray._private.utils import get_num_cpus

    manager = get_accelerator_manager_for_resource("GPU")
    gpus = manager.get_current_node_num_accelerators()
    visible = manager.get_current_process_visible_accelerator_ids()
    if visible is not None:
        gpus = min(gpus, len(visible))
    return NodeOffer("this machine", {"CPU": float(get_num_cpus()), "GPU": float(gpus)})


def require_feasible_here(trial_resources: Any, address: str | None, wait_for_nodes_s: float | None = None,
                          machine: Callable[[], NodeOffer | None] = this_machine) -> None:
    """Before a local Ray starts (no address): refuse CPUs or GPUs this machine does not have,
    without the seconds Ray takes to start. Memory and custom resources are left to
    ``require_feasible`` (Ray decides what it offers of them)."""
    if address is not None or wait_for_nodes_s:
        return
    offer = machine()
    if offer is None:
        return
    request = trial_request(trial_resources)
    counted = TrialRequest(tuple({k: v for k, v in b.items() if k in ("CPU", "GPU")} for b in request.bundles),
                           request.strategy)
    missing = shortfall(counted, [offer])
    if missing is not None:
        raise InfeasibleResources(missing.message([offer]))


# -- the check ----------------------------------------------------------------------


def require_feasible(
    trial_resources: Any,
    wait_for_nodes_s: float | None = None,
    stream: TextIO | None = None,
    *,
    nodes: Callable[[], list[NodeOffer]] = alive_nodes,
    node_types: Callable[[], list[NodeOffer] | None] = autoscaler_node_types,
    ask: Callable[[Sequence[Mapping[str, float]] | None], None] = _ask_autoscaler,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    poll_s: float = 2.0,
) -> Waiting:
    """Return once a node that may hold one trial is alive; raise InfeasibleResources when none
    is, none joins within the wait, or no node type of the autoscaler could ever hold it."""
    request = trial_request(trial_resources)
    waiting = Waiting()
    try:
        offers = nodes()
    except Exception:  # the node table cannot be read (Ray Client, an old GCS): Ray decides, as before
        return waiting
    missing = shortfall(request, offers)
    if missing is None:
        return waiting
    types = node_types()
    if types is not None and shortfall(request, [*offers, *types]) is not None:
        raise InfeasibleResources(missing.message(offers) + " (and no node type of the cluster's autoscaler "
                                  f"can hold it: {'; '.join(f'{t.name}: {describe(t.resources)}' for t in types)})")
    limit = wait_for_nodes_s if wait_for_nodes_s is not None else (AUTOSCALER_WAIT_S if types else 0.0)
    if limit <= 0:
        raise InfeasibleResources(missing.message(offers))
    out = stream or sys.stderr
    if types:
        ask(request.bundles)
        waiting.asked = True
    started = clock()
    last_note = None
    try:
        while True:
            waited = clock() - started
            if last_note is None or waited - last_note >= 30:
                line = (f"waiting for a node that can hold a trial ({describe(request.total)}): "
                        f"{waited:.0f}s of {limit:.0f}s (resources.wait_for_nodes_s)")
                print(line, file=out, flush=True)
                waiting.lines.append(line)
                last_note = waited
            if waited >= limit:
                waiting.seconds = waited
                raise InfeasibleResources(f"{missing.message(offers)} (waited {waited:.0f}s for a node to join)")
            sleep(min(poll_s, max(0.0, limit - waited)))
            offers = nodes()
            now_missing = shortfall(request, offers)
            if now_missing is None:
                waiting.seconds = clock() - started
                return waiting
            missing = now_missing
    finally:
        if waiting.asked:
            ask(None)
