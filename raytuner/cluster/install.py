"""How raytuner and the dependencies a spec needs get onto a cluster with a submitted job.

``--install package`` (the default) makes a vanilla Ray cluster (only ``ray[default,tune]``
installed, as in Ray's images or a default KubeRay cluster) run the job:

1. a wheel of this raytuner is built here (``pip wheel --no-deps``, cached under
   ``~/.cache/raytuner/wheels/<hash of the sources>``; hatchling wheels are reproducible, so
   the same sources give the same bytes);
2. it travels inside the job's ``working_dir`` under ``.raytuner-wheel/<sha256[:16]>/``;
3. the job's ``runtime_env["pip"]`` lists it as
   ``${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}/.raytuner-wheel/<sha>/<wheel>`` (Ray unpacks the
   working dir first and sets that variable while the pip plugin runs; pip expands it in the
   requirements file Ray writes) followed by exact ``name==version`` pins of raytuner's
   requirements and of the spec's extras, with their own requirements, minus what
   ``ray[default,tune]`` already brings. Versions come from the project's ``constraints.txt``,
   else from what is installed here. Ray builds one virtualenv (with the system site
   packages, so Ray itself is not reinstalled) per hash of that list and reuses it for
   later jobs: the sha in the path changes the hash whenever the code changes.

Ray's documented ``py_modules: [wheel]`` is not used: Ray installs such a wheel with
``pip install --target`` and all its dependencies unpinned, Ray included.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from raytuner.errors import ClusterError

INSTALL_MODES = {
    "package": "build a wheel of this raytuner here and install it on the cluster with the exact versions of its "
               "requirements and the spec's extras (runtime_env pip, cached by Ray); works on any cluster "
               "with the same Ray and Python versions that can reach a package index",
    "none": "the cluster already has raytuner and its dependencies (same environment, e.g. `cluster local`)",
    "pip:REQ": "pip-install REQ into the job's environment, e.g. pip:git+https://github.com/ORG/raytuner@v0.1.0 "
               "or pip:raytuner==0.1.0 from your own index",
}
WHEEL_DIR = ".raytuner-wheel"
PLACEHOLDER = "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"
CLUSTER_PROVIDES = "ray[default,tune]"  # what a vanilla Ray cluster has installed
TRAINABLE_EXTRAS = {"torch": ("torch",)}  # trainable.type -> the extras its trials import
AUTO_EXTRAS = ("search",)  # `auto` may choose any searcher of the search extra


@dataclass(frozen=True)
class Shipment:
    """What ``--install package`` sends: the wheel and the pinned requirements."""

    wheel: Path
    sha256: str
    extras: tuple[str, ...]
    requirements: tuple[str, ...]  # exact name==version pins, sorted

    @property
    def wheel_rel(self) -> str:
        return f"{WHEEL_DIR}/{self.sha256[:16]}/{self.wheel.name}"

    def place(self, working_dir: Path) -> None:
        """Copy the wheel into the staging working dir."""
        target = working_dir / self.wheel_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.wheel, target)

    def pip(self) -> dict[str, Any]:
        return {"packages": [f"{PLACEHOLDER}/{self.wheel_rel}", *self.requirements], "pip_check": False}


def runtime_env_install(install: str, shipment: Shipment | None = None) -> dict[str, Any]:
    """The runtime_env fields that make ``python -m raytuner.cluster.remote`` runnable on the cluster."""
    if install == "none":
        return {}
    if install == "package":
        if shipment is None:
            raise ClusterError("--install package: internal error, no wheel built")
        return {"pip": shipment.pip()}
    if install.startswith("pip:") and install[4:].strip():
        return {"pip": [install[4:].strip()]}
    raise ClusterError(f"--install {install!r}: expected one of package, none, pip:REQUIREMENT")


def check_mode(install: str) -> None:
    if install in ("none", "package") or (install.startswith("pip:") and install[4:].strip()):
        return
    raise ClusterError(f"--install {install!r}: expected one of package, none, pip:REQUIREMENT")


# -- the wheel -------------------------------------------------------------------------


def project_root() -> Path | None:
    """The source checkout this raytuner is imported from (pyproject.toml naming raytuner), if any."""
    import raytuner

    root = Path(raytuner.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'(?m)^name\s*=\s*"raytuner"', pyproject.read_text(errors="replace")):
        return root
    return None


def source_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted([root / "pyproject.toml", *(root / "raytuner").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_wheel(cache_dir: Path | None = None) -> Path:
    """A wheel of this raytuner, built once per state of its sources."""
    root = project_root()
    if root is None:
        raise ClusterError(
            "--install package builds a wheel from raytuner's source checkout, and this raytuner is not "
            "imported from one: use --install pip:REQ (e.g. pip:git+https://... or your index), or --install "
            "none on a cluster whose image has raytuner")
    cache = (cache_dir or Path(os.environ.get("RAYTUNER_CACHE") or Path.home() / ".cache" / "raytuner")) / "wheels"
    folder = cache / source_hash(root)[:24]
    found = sorted(folder.glob("raytuner-*.whl")) if folder.is_dir() else []
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(prefix="raytuner-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--quiet",
               "--disable-pip-version-check", "-w", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("raytuner-*.whl"))
        if done.returncode != 0 or not wheels:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            raise ClusterError(f"--install package: building raytuner's wheel failed (`{' '.join(cmd)}`):\n{tail}")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / wheels[0].name
        shutil.move(str(wheels[0]), target)
    return target


# -- the requirements -------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path | None) -> dict[str, str]:
    """``name==version`` lines of a constraints file, by normalised name."""
    pins: dict[str, str] = {}
    if path is None or not path.is_file():
        return pins
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    return pins


def _requires(lines: Iterable[str], extras: Iterable[str]) -> list[Any]:
    """The requirements that apply here for these extras (markers evaluated on this machine)."""
    from packaging.requirements import Requirement

    wanted = ["", *extras]
    found = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted):
            found.append(req)
    return found


def _closure(roots: list[Any]) -> dict[str, Any]:
    """name -> Requirement for the roots and, through the installed metadata, what they need."""
    seen: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        req = todo.pop()
        key = _norm(req.name)
        extras = set(req.extras)
        if key in seen and extras <= set(seen[key].extras):
            continue
        if key in seen:
            seen[key].extras |= extras
        else:
            seen[key] = req
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        todo.extend(_requires(dist.requires or [], seen[key].extras))
    return seen


def provided_by_cluster() -> set[str]:
    """What ``ray[default,tune]`` installs (the laptop's Ray tells): never pinned into the job's env."""
    return set(_closure(_requires([CLUSTER_PROVIDES], [])))


def pinned_requirements(wheel: Path, extras: Iterable[str], constraints: dict[str, str]) -> tuple[str, ...]:
    """Exact pins of what the wheel requires (with these extras) beyond what the cluster has."""
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = archive.read(meta_name).decode()
    lines = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    needed = _closure(_requires(lines, extras))
    skip = provided_by_cluster() | {"raytuner"}
    pins = []
    for key, req in needed.items():
        if key in skip:
            continue
        version = constraints.get(key)
        if version is None:
            try:
                version = md.version(req.name)
            except md.PackageNotFoundError:
                pins.append(str(req))  # not installed here: the requirement as the package states it
                continue
        pins.append(f"{key}=={version}")
    return tuple(sorted(pins))


def spec_extras(spec: Any) -> tuple[str, ...]:
    """The raytuner extras the spec's strategy, scheduler and trainable import on the cluster."""
    from raytuner.schedulers import SCHEDULERS
    from raytuner.strategies import STRATEGIES

    extras: set[str] = set()
    name = spec.strategy.name
    if name == "auto":
        extras.update(AUTO_EXTRAS)
    else:
        extras.update(extra for _, extra in getattr(STRATEGIES.get(name), "requires", ()))
    extras.update(extra for _, extra in getattr(SCHEDULERS.get(spec.scheduler.name), "requires", ()))
    extras.update(TRAINABLE_EXTRAS.get(getattr(spec.trainable, "type", ""), ()))
    return tuple(sorted(extras))


def ship(spec: Any | None, *, cache_dir: Path | None = None) -> Shipment:
    """Build (or reuse) the wheel and pin what the job's environment needs."""
    wheel = build_wheel(cache_dir)
    extras = spec_extras(spec) if spec is not None else ()
    root = project_root()
    constraints = read_constraints(root / "constraints.txt" if root else None)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return Shipment(wheel, sha, extras, pinned_requirements(wheel, extras, constraints))
