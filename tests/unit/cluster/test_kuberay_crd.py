"""The KubeRay manifests against KubeRay's full CRD schemas, when they are on disk
(scripts/fetch_kuberay_crds.sh puts them in tests/data/kuberay/; KUBERAY_CRD_DIR points elsewhere).
Also checks that tests/data/kuberay-v1.5.1.schema.json, which test_configs.py always uses,
names only fields, types and enums the CRDs have. Skipped without the CRDs (no network in tests)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml

DATA = Path(__file__).resolve().parents[2] / "data"
K8S = Path(__file__).resolve().parents[3] / "cluster" / "kubernetes"
CRDS = Path(os.environ.get("KUBERAY_CRD_DIR") or DATA / "kuberay")
FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}


@functools.cache
def _crd_schema(kind: str) -> dict[str, Any]:
    path = CRDS / FILES[kind]
    if not path.exists():
        pytest.skip(f"no KubeRay CRD at {path} (run scripts/fetch_kuberay_crds.sh)")
    crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused (kubectl apply --validate=strict does; the
    API server would otherwise prune them silently)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml"])
def test_manifest_matches_the_crd(name: str) -> None:
    doc = yaml.safe_load((K8S / name).read_text())
    schema = _strict(_crd_schema(doc["kind"]))
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: not part of the CRD schema
    jsonschema.validate(doc, schema)


def _walk(ours: Any, theirs: Any, where: str) -> Iterator[str]:
    """Where our schema names a field the CRD lacks, or a type/enum it contradicts."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return
    for key, sub in ours.get("properties", {}).items():
        if key not in theirs.get("properties", {}):
            yield f"{where}.{key}: not in the CRD"
            continue
        crd = theirs["properties"][key]
        if "type" in sub and "type" in crd and sub["type"] != crd["type"] and not (sub["type"] == "number" and crd.get("x-kubernetes-int-or-string")):
            yield f"{where}.{key}: type {sub['type']} vs {crd['type']}"
        if "enum" in sub and "enum" in crd and set(sub["enum"]) - set(crd["enum"]):
            yield f"{where}.{key}: enum {sub['enum']} vs {crd['enum']}"
        yield from _walk(sub, crd, f"{where}.{key}")
    if "items" in ours and "items" in theirs:
        yield from _walk(ours["items"], theirs["items"], f"{where}[]")
    if isinstance(ours.get("additionalProperties"), dict) and isinstance(theirs.get("additionalProperties"), dict):
        yield from _walk(ours["additionalProperties"], theirs["additionalProperties"], f"{where}{{}}")


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolve(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _resolve(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(v, defs) for v in schema]
    return schema


def test_our_schema_names_only_what_the_crds_have() -> None:
    ours = json.loads((DATA / "kuberay-v1.5.1.schema.json").read_text())
    defs = ours["$defs"]
    problems = []
    for branch in ours["oneOf"]:
        kind = branch["properties"]["kind"]["const"]
        spec = _resolve(branch["properties"]["spec"], defs)
        problems += list(_walk(spec, _crd_schema(kind)["properties"]["spec"], f"{kind}.spec"))
    assert not problems, problems
