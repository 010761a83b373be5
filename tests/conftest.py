from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray per test session (num_cpus=2, no dashboard, own short temp dir)."""
    import ray

    from raytuner.testing import start_test_ray

    temp_dir = start_test_ray(2)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path
