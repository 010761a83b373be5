"""Every YAML in cluster/ loads and validates: launcher configs against the JSON schema that
ships inside the ray package, KubeRay manifests against the fields KubeRay's CRDs expect."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CLUSTER = Path(__file__).resolve().parents[3] / "cluster"
LAUNCHER = sorted(CLUSTER.glob("*.yaml"))
MANIFESTS = [CLUSTER / "kubernetes" / "raycluster.yaml", CLUSTER / "kubernetes" / "rayjob.yaml"]
ACCESS = [CLUSTER / "kubernetes" / "networkpolicy.yaml", CLUSTER / "kubernetes" / "serviceaccount.yaml"]


def _ray_schema() -> dict[str, Any]:
    import ray

    return json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_every_yaml_is_covered() -> None:
    every = sorted(CLUSTER.rglob("*.yaml")) + sorted(CLUSTER.rglob("*.yml"))
    assert every == sorted(LAUNCHER + MANIFESTS + ACCESS)
    assert [p.name for p in LAUNCHER] == ["aws.yaml", "gcp.yaml"]
    assert [p.name for p in MANIFESTS] == ["raycluster.yaml", "rayjob.yaml"]
    assert [p.name for p in ACCESS] == ["networkpolicy.yaml", "serviceaccount.yaml"]  # test_images.py


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_is_valid(path: Path) -> None:
    config = _load(path)
    jsonschema.validate(config, _ray_schema())
    from ray.autoscaler._private.util import validate_config

    validate_config(copy.deepcopy(config))  # Ray's own checks on top of the schema

    types = config["available_node_types"]
    assert config["head_node_type"] in types
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    assert set(workers) == {"cpu_worker", "gpu_worker"}
    for node in workers.values():  # autoscaling bounds
        assert 0 <= node["min_workers"] <= node["max_workers"] <= config["max_workers"]
    assert workers["gpu_worker"]["max_workers"] >= 1
    gpu_config = json.dumps(workers["gpu_worker"])
    assert "gpu" in gpu_config.lower()

    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start  # dashboard / Jobs API on localhost only
    for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        if "ray start" in command:
            assert "RAY_AUTH_MODE=token" in command
    # the project is installed on every node from the package (pip, pinned), not hand-copied
    setup = " ".join(config["setup_commands"] + config["head_setup_commands"] + config["worker_setup_commands"])
    assert "pip install" in setup and "constraints.txt" in setup and "raytuner" in setup  # per node: test_images.py
    assert config["file_mounts"]["~/.ray/auth_token"] == "cluster/.secrets/auth_token"
    assert ".env" in config["rsync_exclude"] and ".venv" in config["rsync_exclude"]


def test_images_match_the_pinned_ray_and_python() -> None:
    import sys

    import ray

    tag = f"{ray.__version__}-py{sys.version_info.major}{sys.version_info.minor}"
    images = []
    for path in LAUNCHER + MANIFESTS:
        text = path.read_text()
        images += [line.split("rayproject/ray:", 1)[1].split()[0] for line in text.splitlines()
                   if "rayproject/ray:" in line and not line.lstrip().startswith("#")]
        for doc in [_load(path)]:
            spec = doc.get("spec", {})
            version = spec.get("rayVersion") or spec.get("rayClusterSpec", {}).get("rayVersion")
            assert version in (None, ray.__version__), path.name
    dockerfile = (CLUSTER / "kubernetes" / "Dockerfile").read_text()
    images += [line.split("rayproject/ray:", 1)[1].split()[0] for line in dockerfile.splitlines()
               if line.startswith("ARG BASE=")]
    assert images and all(image.startswith(tag) for image in images), images


def test_the_schema_check_can_fail() -> None:
    config = _load(LAUNCHER[0])
    config["available_node_types"]["cpu_worker"]["min_wokers"] = 1  # a typo
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, _ray_schema())
    config = _load(LAUNCHER[0])
    config["provider"]["type"] = 7
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, _ray_schema())


# -- KubeRay: ray.io/v1 RayCluster / RayJob against the fields, types, enums and required lists of
# KubeRay v1.5.1's CRDs (the first release with authOptions): tests/data/kuberay-v1.5.1.schema.json
# (test_kuberay_crd.py checks it and the manifests against the full CRDs when those are present).

def _kuberay_schema() -> dict[str, Any]:
    return json.loads((Path(__file__).resolve().parents[2] / "data" / "kuberay-v1.5.1.schema.json").read_text())


def _pod(where: str, template: dict[str, Any], gpu: bool = False) -> None:
    containers = template["spec"]["containers"]
    assert containers and all(c.get("name") and c.get("image") for c in containers), where
    resources = containers[0]["resources"]
    assert resources["limits"]["cpu"] == resources["requests"]["cpu"], where
    assert ("nvidia.com/gpu" in resources["limits"]) == gpu, where


def check_cluster_spec(where: str, spec: dict[str, Any]) -> None:
    assert spec.get("authOptions") == {"mode": "token"}, f"{where}: token authentication must be on"
    major, minor = (int(x) for x in spec["rayVersion"].split(".")[:2])
    assert (major, minor) >= (2, 52), "token auth needs Ray >= 2.52"
    head = spec["headGroupSpec"]
    assert head.get("serviceType", "ClusterIP") == "ClusterIP", "never expose the dashboard as a LoadBalancer"
    _pod(f"{where}.headGroupSpec", head["template"])
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    for name, group in groups.items():
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        _pod(f"{where}.workerGroupSpecs[{name}]", group["template"], gpu=name == "gpu")


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kuberay_manifest_is_valid(path: Path) -> None:
    doc = _load(path)
    jsonschema.validate(doc, _kuberay_schema())
    if doc["kind"] == "RayCluster":
        check_cluster_spec("spec", doc["spec"])
    else:
        assert doc["kind"] == "RayJob"
        assert doc["spec"]["entrypoint"].startswith("raytuner run ")
        check_cluster_spec("spec.rayClusterSpec", doc["spec"]["rayClusterSpec"])


@pytest.mark.parametrize(
    "where, key, value",
    [
        (["spec", "workerGroupSpecs", 0], "maxReplica", 3),  # a typo
        (["spec", "headGroupSpec", "template", "spec"], "serviceAcountName", "raytuner"),  # a typo
        (["spec", "headGroupSpec", "rayStartParams"], "num-cpus", 0),  # values are strings
        (["spec", "authOptions"], "mode", "on"),  # disabled | token
        (["spec", "workerGroupSpecs", 0, "template", "spec", "containers", 0], "imagePullPolicy", "Sometimes"),
    ],
)
def test_the_manifest_check_can_fail(where: list[Any], key: str, value: Any) -> None:
    doc = _load(CLUSTER / "kubernetes" / "raycluster.yaml")
    node = doc
    for step in where:
        node = node[step]
    node[key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _kuberay_schema())


def test_the_semantic_check_can_fail() -> None:
    doc = _load(CLUSTER / "kubernetes" / "raycluster.yaml")
    del doc["spec"]["authOptions"]
    with pytest.raises(AssertionError, match="token authentication"):
        check_cluster_spec("spec", doc["spec"])
