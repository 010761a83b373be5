"""Complete, consistent images (#17): every cluster config and the Dockerfile install raytuner
with the same extras, pinned by constraints.txt; those extras cover what every shipped
experiment needs; heads run no trials anywhere; GPU nodes get torch's CUDA build; Kubernetes
pods run as one annotated ServiceAccount behind a NetworkPolicy."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CLUSTER = ROOT / "cluster"
K8S = CLUSTER / "kubernetes"
LAUNCHER = [CLUSTER / "aws.yaml", CLUSTER / "gcp.yaml"]
KUBERAY = [K8S / "raycluster.yaml", K8S / "rayjob.yaml"]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# what the images install; every experiment's needs must be inside it
IMAGE_EXTRAS = frozenset({"bohb", "cluster", "export", "lightgbm", "pb2", "search", "torch", "xgboost"})
INSTALL = re.compile(r"raytuner\[(?P<extras>[a-z0-9,]+)\]")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# -- what each config installs ----------------------------------------------------------------

def _launcher_installs(config: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(node type, pip command, gpu node) for every node type of a launcher config."""
    types = config["available_node_types"]
    for name, node in types.items():
        commands = list(config["setup_commands"])
        if name == config["head_node_type"]:
            commands += config["head_setup_commands"]
        else:
            commands += node.get("worker_setup_commands", config["worker_setup_commands"])
        gpu = "GPU" in node.get("resources", {}) or "gpu" in str(node.get("docker", {})).lower()
        pips = [c for c in commands if "pip install" in c and "raytuner" in c]
        assert len(pips) == 1, f"{name}: one pip install of raytuner, got {pips}"
        yield name, pips[0], gpu


def _extras(command: str) -> frozenset[str]:
    found = INSTALL.search(command)
    assert found, f"no raytuner[...] in {command!r}"
    return frozenset(found.group("extras").split(","))


def _dockerfile_install() -> str:
    text = (K8S / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [line for line in text.splitlines() if line.startswith("RUN ") and "pip install" in line]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_nodes_install_the_image_extras_pinned(path: Path) -> None:
    config = _load(path)
    seen = []
    for name, command, gpu in _launcher_installs(config):
        words = shlex.split(command.split("#", 1)[0])
        assert _extras(command) == IMAGE_EXTRAS, name
        assert words[words.index("-c") + 1] == "~/raytuner/constraints.txt", name
        # CPU nodes take torch's CPU wheels; GPU nodes PyPI's CUDA build (same pinned version)
        assert (CPU_INDEX in command) == (not gpu), name
        seen.append(gpu)
    assert sorted(seen) == [False, False, True]  # head, cpu_worker, gpu_worker
    assert config["file_mounts"]["~/raytuner"] == "."  # constraints.txt travels with the tree


def test_dockerfile_installs_the_image_extras_pinned() -> None:
    text = (K8S / "Dockerfile").read_text()
    run = _dockerfile_install()
    assert _extras(run) == IMAGE_EXTRAS
    assert "-c /home/ray/raytuner/constraints.txt" in run
    assert re.search(r"^COPY .*constraints\.txt /home/ray/raytuner/", text, re.M)
    assert f"ARG TORCH_INDEX={CPU_INDEX}" in text and "${TORCH_INDEX:+--extra-index-url" in run
    assert "--build-arg TORCH_INDEX= " in text  # the documented GPU build: PyPI's CUDA torch


def test_every_install_uses_one_extras_set() -> None:
    commands = [c for path in LAUNCHER for _, c, _ in _launcher_installs(_load(path))]
    commands.append(_dockerfile_install())
    assert {_extras(c) for c in commands} == {IMAGE_EXTRAS}
    declared = set(__import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert IMAGE_EXTRAS <= declared


def test_constraints_pin_every_package_the_extras_name() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pinned[re.sub(r"[-_.]+", "-", name.lower())] = version
    for extra in sorted(IMAGE_EXTRAS):
        for requirement in extras[extra]:
            name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
            assert re.sub(r"[-_.]+", "-", name.lower()) in pinned, f"{extra}: {name} is not pinned"


# -- heads run no trials, everywhere ------------------------------------------------------------

def test_heads_run_no_trials_anywhere() -> None:
    for path in LAUNCHER:
        config = _load(path)
        head = config["available_node_types"][config["head_node_type"]]
        assert head["resources"].get("CPU") == 0, path.name
        start = " ".join(c for c in config["head_start_ray_commands"] if "ray start" in c)
        assert "--num-cpus=0" in start, path.name
    for path in KUBERAY:
        doc = _load(path)
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0", path.name


# -- every shipped experiment only needs what the images hold -----------------------------------

CORE_MODULES = {"sklearn", "numpy", "pandas", "raytuner"}  # base dependencies of raytuner


@functools.cache
def experiment_extras(path: Path) -> frozenset[str]:
    """The extras a spec needs: its (resolved) strategy, scheduler and trainable declare them
    in ``requires``; a skops refit needs ``export``; s3:// storage needs ``cluster``."""
    from raytuner.runner.plan import make_plan
    from raytuner.spec.loader import load_spec

    spec = load_spec(path)
    plan = make_plan(spec)  # auto resolves to the strategy it really runs
    needs = {extra for part in (plan.strategy, plan.scheduler, plan.trainable) for _, extra in part.requires}
    if spec.refit.enabled and "skops" in spec.refit.formats and plan.trainable.sklearn_model:
        needs.add("export")
    if spec.storage.path.startswith("s3://"):
        needs.add("cluster")
    estimator = getattr(spec.trainable, "estimator", None)
    if isinstance(estimator, str):
        top = estimator.split(":")[0].split(".")[0]
        assert top in CORE_MODULES or top in needs, f"{path.name}: estimator from {top}: give it an extra and install it in the images"
    return frozenset(needs)


EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_needs_only_what_the_images_install(path: Path) -> None:
    assert experiment_extras(path) <= IMAGE_EXTRAS


def test_the_experiment_extras_are_derived() -> None:
    by_name = {p.name: experiment_extras(p) for p in EXPERIMENTS}
    assert "torch" in by_name["torch_mlp_digits_gpu.yaml"]
    assert "search" in by_name["tpe-gradient-boosting.yaml"]
    assert "search" in by_name["auto-curve.yaml"]  # auto resolves to bayesopt
    assert "bohb" in by_name["bohb.yaml"] and "pb2" in by_name["pb2.yaml"]
    assert "export" in by_name["sklearn_pipeline.yaml"]
    assert "xgboost" in by_name["xgboost_asha.yaml"] and "lightgbm" in by_name["lightgbm_asha.yaml"]
    assert set().union(*by_name.values()) == IMAGE_EXTRAS  # nothing installed in vain


# -- Kubernetes: one ServiceAccount, a NetworkPolicy per cluster --------------------------------

def _pod_templates(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]


def _clusters() -> dict[str, dict[str, Any]]:
    """The raytuner.io/cluster label of each manifest -> its RayCluster spec."""
    out = {}
    for path in KUBERAY:
        doc = _load(path)
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        labels = {t["metadata"]["labels"]["raytuner.io/cluster"] for t in _pod_templates(spec)}
        assert labels == {doc["metadata"]["name"]}, path.name
        out[doc["metadata"]["name"]] = spec
    return out


def test_every_pod_runs_as_the_annotated_service_account() -> None:
    account = _load(K8S / "serviceaccount.yaml")
    assert account["apiVersion"] == "v1" and account["kind"] == "ServiceAccount"
    notes = account["metadata"]["annotations"]
    assert notes["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")  # IRSA
    assert notes["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")  # Workload Identity
    assert account.get("automountServiceAccountToken", True)  # the in-tree autoscaler uses it
    for name, spec in _clusters().items():
        for template in _pod_templates(spec):
            assert template["spec"]["serviceAccountName"] == account["metadata"]["name"], name


def _admits(policy: dict[str, Any], source: dict[str, Any], port: int) -> bool:
    """Whether the policy's ingress rules let a pod (its labels, its namespace's labels) in on ``port``."""
    for rule in policy["spec"].get("ingress", []):
        ports = {p["port"] for p in rule.get("ports", [])}
        if ports and port not in ports:
            continue
        for peer in rule.get("from", []):
            pods = peer.get("podSelector", {}).get("matchLabels", {})
            namespaces = peer.get("namespaceSelector")
            same_ns = namespaces is None and source["namespace"] == "own"
            ns_ok = same_ns or (namespaces is not None and namespaces.get("matchLabels", {}).items() <= source["ns_labels"].items())
            if ns_ok and pods.items() <= source["labels"].items():
                return True
    return False


def test_network_policy_keeps_ray_ports_inside_each_cluster() -> None:
    policies = {p["metadata"]["name"]: p for p in yaml.safe_load_all((K8S / "networkpolicy.yaml").read_text())}
    clusters = _clusters()
    assert set(policies) == set(clusters)
    own_ns = {"kubernetes.io/metadata.name": "default"}
    for name, policy in policies.items():
        assert policy["kind"] == "NetworkPolicy" and policy["spec"]["policyTypes"] == ["Ingress"]
        assert policy["spec"]["podSelector"] == {"matchLabels": {"raytuner.io/cluster": name}}
        member = {"labels": {"raytuner.io/cluster": name, "ray.io/node-type": "worker"}, "namespace": "own", "ns_labels": own_ns}
        other = [  # another raytuner cluster, any pod of the namespace, the KubeRay operator elsewhere
            {"labels": {"raytuner.io/cluster": "someone-else"}, "namespace": "own", "ns_labels": own_ns},
            {"labels": {"app": "web"}, "namespace": "own", "ns_labels": own_ns},
            {"labels": {"app.kubernetes.io/name": "kuberay-operator"}, "namespace": "other",
             "ns_labels": {"kubernetes.io/metadata.name": "ray-system"}},
            {"labels": {}, "namespace": "other", "ns_labels": {"kubernetes.io/metadata.name": "tenant"}},
        ]
        for port in (6379, 8265, 10001, 8080, 52365):
            assert _admits(policy, member, port), (name, port)
        for port in (6379, 10001, 8080):  # GCS, client, metrics: the cluster's own pods only
            assert not any(_admits(policy, source, port) for source in other), (name, port)
        assert not _admits(policy, other[1], 8265) and not _admits(policy, other[3], 8265)
    job = policies["raytuner-quickstart"]  # the RayJob: the operator and the submitter reach the Jobs API
    operator = {"labels": {"app.kubernetes.io/name": "kuberay-operator"}, "namespace": "other",
                "ns_labels": {"kubernetes.io/metadata.name": "ray-system"}}
    submitter = {"labels": {"batch.kubernetes.io/job-name": "raytuner-quickstart"}, "namespace": "own", "ns_labels": own_ns}
    assert _admits(job, operator, 8265) and _admits(job, submitter, 8265)
    assert not _admits(job, operator, 6379) and not _admits(job, submitter, 6379)
    assert not _admits(policies["raytuner"], operator, 8265)  # a RayCluster needs no operator traffic


def test_every_declared_requirement_names_a_real_extra() -> None:
    """The ``requires`` attributes the derivation above reads: every (module, extra) names an
    extra of pyproject.toml that the images install, and the module is importable here."""
    import importlib.util
    import tomllib

    from raytuner.schedulers import SCHEDULERS
    from raytuner.strategies import STRATEGIES
    from raytuner.trainables import TRAINABLES

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    pairs = {pair for registry in (STRATEGIES, SCHEDULERS, TRAINABLES)
             for entry in registry.entries() for pair in registry.get(entry.name).requires}
    assert ("torch", "torch") in pairs and ("scipy", "pb2") in pairs and ("hpbandster", "bohb") in pairs
    for module, extra in sorted(pairs):
        assert extra in declared and extra in IMAGE_EXTRAS, (module, extra)
        assert importlib.util.find_spec(module) is not None, module
