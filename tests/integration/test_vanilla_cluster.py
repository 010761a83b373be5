"""A vanilla Ray cluster runs a job: a head started from a virtualenv holding only
``ray[default,tune]`` (pinned by constraints.txt; no raytuner, no rich, no scikit-learn), a
spec submitted with the default ``--install package``, and ``fetch`` brings the summary and
the model back. A job whose environment cannot be installed says why under ``--wait``.

The virtualenv is built once per constraints.txt under /tmp/raytuner-vanilla-venv-<hash>
(about a minute); the test is skipped with the reason when pip cannot install Ray.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from raytuner.cli.main import main
from raytuner.cluster import local as cluster_local

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
VENV = Path(f"/tmp/raytuner-vanilla-venv-{hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:12]}")
DONE = ".raytuner-complete"

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def vanilla_python() -> Path:
    """Built in place (a moved virtualenv keeps its old path in bin/activate, which Ray's clone of
    it for the job's pip environment then activates: `python` would not be the job's)."""
    import fcntl

    python = VENV / "bin" / "python"
    with open(f"{VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        if not (VENV / DONE).exists():
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
            done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                   "-c", str(CONSTRAINTS), "ray[default,tune]"],
                                  capture_output=True, text=True, timeout=1200)
            if done.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                tail = "\n".join(done.stderr.strip().splitlines()[-5:])
                pytest.skip(f"cannot install ray[default,tune] from the package index:\n{tail}")
            (VENV / DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as the head sees it
    for module in ("raytuner", "rich", "sklearn", "plotly"):  # the head has none of these
        found = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True, cwd="/",
                               env=env, timeout=120)
        assert f"No module named '{module}'" in found.stderr, found.stderr
    return python


@pytest.fixture(scope="module")
def vanilla_cluster(vanilla_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_local.LocalCluster]:
    state = tmp_path_factory.mktemp("vanilla") / "state"
    cluster = cluster_local.up(state, workers=0, head_cpus=2, python=str(vanilla_python))
    try:
        yield cluster
    finally:
        cluster_local.down(state)
        assert not any(cluster_local._ours(node) for node in cluster.nodes)


@pytest.fixture
def token_env(vanilla_cluster: cluster_local.LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", vanilla_cluster.token_path)


def test_default_install_runs_quickstart_and_fetch_brings_it_back(
        vanilla_cluster: cluster_local.LocalCluster, token_env: None, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    url = vanilla_cluster.dashboard_url
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(ROOT / "experiments" / "quickstart.yaml", project / "quickstart.yaml")
    started = time.perf_counter()
    code = main(["submit", str(project / "quickstart.yaml"), "--address", url, "--workdir", str(project), "--wait",
                 "--set", "budget.trials=2", "--set", "trainable.cv.folds=2",
                 "--set", f"storage.path={tmp_path / 'cluster-results'}"])
    submit_s = time.perf_counter() - started
    out, err = capfd.readouterr()
    assert code == 0, out + err
    job_id = out.splitlines()[0].strip()
    assert f"job {job_id}: SUCCEEDED" in err and "trials 2/2" in out and "RAYTUNER_RESULT" in out
    # raytuner came from the wheel, installed into the job's pip virtualenv (the head has none)
    origin = out.split("raytuner 0.1.0 from ", 1)[1].splitlines()[0]
    assert "runtime_resources" in origin and "/pip/" in origin and "site-packages" in origin, origin

    started = time.perf_counter()
    fetched = tmp_path / "fetched"
    assert main(["fetch", job_id, "--address", url, "--to", str(fetched)]) == 0
    fetch_s = time.perf_counter() - started
    assert capfd.readouterr().out.strip() == str(fetched)
    summary = json.loads((fetched / "summary.json").read_text())
    assert summary["name"] == "quickstart" and len(summary["trials"]) == 2
    assert sorted(p.name for p in (fetched / "model").iterdir() if p.suffix == ".joblib")
    assert main(["jobs", "list", "--address", url, "--json"]) == 0
    listed = json.loads(capfd.readouterr().out)
    probes = [j for j in listed if (j["job"] or "").startswith("raytuner-probe-")]
    assert not probes  # the version probe was deleted, and checked gone (no ghost entry)
    job = next(j for j in listed if j["job"] == job_id)
    assert job["metadata"]["raytuner_install"] == "package"
    print(f"\nvanilla cluster: submit to SUCCEEDED {submit_s:.1f} s (first: builds the job's pip env); "
          f"fetch {fetch_s:.1f} s", file=sys.stderr)


def test_a_job_whose_environment_fails_says_why(vanilla_cluster: cluster_local.LocalCluster, token_env: None,
                                               tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(ROOT / "experiments" / "quickstart.yaml", project / "quickstart.yaml")
    code = main(["submit", str(project / "quickstart.yaml"), "--address", vanilla_cluster.dashboard_url,
                 "--workdir", str(project), "--wait", "--install", "pip:raytuner-no-such-package==0.0.1"])
    out, err = capfd.readouterr()
    assert code == 1, out + err
    job_id = out.splitlines()[0].strip()
    block = err.split(f"job {job_id} FAILED:", 1)[1].split(f"job {job_id}: FAILED", 1)[0]
    assert "No matching distribution found for raytuner-no-such-package==0.0.1" in block
    assert len(block.strip().splitlines()) <= 2 * 25 + 1  # Ray's message and the log's end, bounded
