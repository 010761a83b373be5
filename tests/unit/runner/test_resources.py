"""Infeasible trial resources refused before any trial starts (issue #12, part 3): the
fitting logic on made-up node lists, and the wait for an autoscaler with a fake clock."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from raytuner.runner.resources import (
    InfeasibleResources,
    NodeOffer,
    TrialRequest,
    require_feasible,
    shortfall,
    trial_request,
)
from raytuner.errors import RaytunerError

GIB = 2.0**30
CPU2 = NodeOffer("10.0.0.1", {"CPU": 2.0, "memory": 8 * GIB})
CPU4 = NodeOffer("10.0.0.2", {"CPU": 4.0, "memory": 16 * GIB})
GPU1 = NodeOffer("10.0.0.3", {"CPU": 4.0, "GPU": 1.0, "memory": 16 * GIB})


def test_request_from_a_resource_dict_and_a_placement_group() -> None:
    assert trial_request({"cpu": 1, "gpu": 0}) == TrialRequest(({"CPU": 1.0},))
    assert trial_request({"cpu": 0, "gpu": 0, "memory": 256}) == TrialRequest(({"memory": 256.0},))
    pgf = SimpleNamespace(bundles=[{"CPU": 1.0}, {"CPU": 0.5, "GPU": 0}], strategy="STRICT_SPREAD")
    assert trial_request(pgf) == TrialRequest(({"CPU": 1.0}, {"CPU": 0.5}), "STRICT_SPREAD")


def test_a_trial_that_fits_a_node_is_never_refused() -> None:
    assert shortfall(trial_request({"cpu": 2, "gpu": 0}), [CPU2]) is None
    assert shortfall(trial_request({"cpu": 1, "gpu": 1}), [CPU2, GPU1]) is None
    assert shortfall(TrialRequest(({"CPU": 1.0}, {"CPU": 1.0}), "SPREAD"), [CPU2]) is None  # best effort


@pytest.mark.parametrize(
    ("request_", "nodes", "field", "resource", "asked", "largest"),
    [
        (TrialRequest(({"CPU": 1.0, "GPU": 1.0},)), [CPU2, CPU4], "resources.gpu", "GPU", 1.0, 0.0),
        (TrialRequest(({"CPU": 1.0, "GPU": 2.0},)), [CPU2, GPU1], "resources.gpu", "GPU", 2.0, 1.0),
        (TrialRequest(({"CPU": 8.0},)), [CPU2, CPU4], "resources.cpu", "CPU", 8.0, 4.0),  # 6 in all: per node counts
        (TrialRequest(({"CPU": 1.0}, {"CPU": 1.0, "GPU": 1.0})), [CPU4], "resources.child_gpu", "GPU", 1.0, 0.0),
        (TrialRequest(({"memory": 32 * GIB},)), [CPU4], "resources", "memory", 32 * GIB, 16 * GIB),
    ],
)
def test_what_no_node_has_is_named(request_: TrialRequest, nodes: list[NodeOffer], field: str, resource: str,
                                   asked: float, largest: float) -> None:
    missing = shortfall(request_, nodes)
    assert missing is not None
    assert (missing.field, missing.resource, missing.asked, missing.largest) == (field, resource, asked, largest)
    text = missing.message(nodes)
    assert text.startswith(field + ":") and resource in text and nodes[0].name in text


def test_a_bundle_must_fit_one_node_as_a_whole() -> None:
    gpu_small_cpu = NodeOffer("g", {"CPU": 1.0, "GPU": 1.0})
    missing = shortfall(TrialRequest(({"CPU": 4.0, "GPU": 1.0},)), [CPU4, gpu_small_cpu])
    assert missing is not None and missing.resource == "bundle" and "at once" in missing.why


def test_strict_pack_needs_one_node_for_all_bundles() -> None:
    request = TrialRequest(({"CPU": 2.0}, {"CPU": 2.0}, {"CPU": 2.0}), "STRICT_PACK")
    missing = shortfall(request, [CPU4, CPU4])
    assert missing is not None and missing.field == "resources.placement" and missing.resource == "CPU"
    assert shortfall(TrialRequest(({"CPU": 2.0}, {"CPU": 2.0}), "STRICT_PACK"), [CPU2, CPU4]) is None


def test_strict_spread_needs_a_node_per_bundle() -> None:
    request = TrialRequest(({"CPU": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}), "STRICT_SPREAD")
    missing = shortfall(request, [CPU2, CPU4])
    assert missing is not None and missing.field == "resources.placement" and missing.asked == 3 and missing.largest == 2
    assert shortfall(request, [CPU2, CPU4, GPU1]) is None
    # the GPU bundle must take the GPU node: a matching, not first fit
    request = TrialRequest(({"CPU": 1.0}, {"CPU": 1.0, "GPU": 1.0}), "STRICT_SPREAD")
    assert shortfall(request, [GPU1, CPU2]) is None


def test_the_cluster_total_bounds_best_effort_placements() -> None:
    request = TrialRequest(({"CPU": 2.0}, {"CPU": 2.0}, {"CPU": 2.0}), "PACK")
    missing = shortfall(request, [CPU2, CPU2])
    assert missing is not None and missing.field == "resources.child_bundles" and missing.asked == 6


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_refused_at_once_without_an_autoscaler() -> None:
    clock = FakeClock()
    with pytest.raises(InfeasibleResources) as exc:
        require_feasible({"cpu": 1, "gpu": 1}, nodes=lambda: [CPU2], node_types=lambda: None,
                         sleep=clock.sleep, clock=clock)
    assert isinstance(exc.value, RaytunerError) and exc.value.exit_code == 2
    assert str(exc.value).startswith("resources.gpu: each trial asks for 1 GPU, but no node has any GPU")
    assert clock.now == 0


def test_an_autoscaler_without_a_fitting_node_type_refuses_at_once() -> None:
    asked: list[Any] = []
    with pytest.raises(InfeasibleResources) as exc:
        require_feasible({"cpu": 1, "gpu": 1}, nodes=lambda: [CPU2], node_types=lambda: [CPU4], ask=asked.append)
    assert "no node type of the cluster's autoscaler can hold it" in str(exc.value) and asked == []


def test_waits_for_the_autoscaler_then_goes_on() -> None:
    clock, asked, stream = FakeClock(), [], io.StringIO()
    joined = lambda: [CPU2, GPU1] if clock.now >= 50 else [CPU2]  # noqa: E731
    waiting = require_feasible({"cpu": 1, "gpu": 1}, None, stream, nodes=joined, node_types=lambda: [GPU1],
                               ask=asked.append, sleep=clock.sleep, clock=clock)
    assert waiting.asked and asked == [({"CPU": 1.0, "GPU": 1.0},), None]  # asked for the bundle, then cleared
    assert 50 <= waiting.seconds < 60
    assert stream.getvalue().startswith("waiting for a node that can hold a trial (1 CPU, 1 GPU)")
    assert "of 300s" in stream.getvalue() and len(waiting.lines) == 2  # at 0 s and 30 s


def test_a_wait_that_ends_without_a_node_fails_with_the_same_message() -> None:
    clock, stream = FakeClock(), io.StringIO()
    with pytest.raises(InfeasibleResources) as exc:
        require_feasible({"cpu": 3}, 10, stream, nodes=lambda: [CPU2], node_types=lambda: None,
                         sleep=clock.sleep, clock=clock)
    assert str(exc.value).startswith("resources.cpu: each trial asks for 3 CPU, but the largest node offers 2 CPU")
    assert "waited 10s" in str(exc.value) and clock.now == 10
    assert "of 10s (resources.wait_for_nodes_s)" in stream.getvalue()


def test_an_unreadable_node_table_leaves_it_to_ray() -> None:
    def broken() -> list[NodeOffer]:
        raise ConnectionError("no GCS")

    assert require_feasible({"cpu": 1, "gpu": 1}, nodes=broken, node_types=lambda: None).seconds == 0


def test_a_wait_without_an_autoscaler_when_asked_for() -> None:
    """wait_for_nodes_s set: wait for nodes someone adds by hand (no autoscaler is asked)."""
    clock, asked = FakeClock(), []
    joined = lambda: [CPU2, CPU4] if clock.now >= 7 else [CPU2]  # noqa: E731
    waiting = require_feasible({"cpu": 3}, 60, io.StringIO(), nodes=joined, node_types=lambda: None,
                               ask=asked.append, sleep=clock.sleep, clock=clock)
    assert not waiting.asked and asked == [] and 7 <= waiting.seconds <= 8


def test_before_a_local_ray_starts_this_machine_is_enough() -> None:
    from raytuner.runner.resources import require_feasible_here

    here = NodeOffer("this machine", {"CPU": 2.0, "GPU": 0.0})
    with pytest.raises(InfeasibleResources) as exc:
        require_feasible_here({"cpu": 1, "gpu": 1}, None, machine=lambda: here)
    assert str(exc.value).startswith("resources.gpu: each trial asks for 1 GPU, but no node has any GPU "
                                     "(nodes: this machine: 2 CPU, 0 GPU)")
    with pytest.raises(InfeasibleResources):
        require_feasible_here({"cpu": 4, "gpu": 0}, None, machine=lambda: here)
    require_feasible_here({"cpu": 2, "gpu": 0, "memory": 2**50}, None, machine=lambda: here)  # memory: Ray's call
    require_feasible_here({"cpu": 1, "gpu": 1}, "auto", machine=lambda: here)  # a cluster: checked once joined
    require_feasible_here({"cpu": 1, "gpu": 1}, None, 60, machine=lambda: here)  # told to wait for nodes
    require_feasible_here({"cpu": 1, "gpu": 1}, None, machine=lambda: None)  # Ray would join a cluster


def test_this_machine_reads_cpus_without_starting_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    from raytuner.runner.resources import this_machine

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    offer = this_machine()
    assert offer is not None and offer.resources["CPU"] >= 1 and offer.resources["GPU"] >= 0
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert this_machine() is None
