"""PBT never loses a checkpoint it may clone (issue #12, part 7): the shipped PBT example,
with more trials than CPUs so clones wait while their donors train on, runs through the CLI
with no traceback on stderr, every trial ok, and exploits made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pbt_example_runs_clean(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "raytuner.cli.main", "run", str(ROOT / "experiments" / "pbt.yaml"), "--json",
         "--set", "budget.trials=8", "--set", "budget.max_concurrent=8", "--set", "refit=false",
         "--set", f"storage.path={tmp_path / 'results'}"],
        capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for noise in ("Traceback", "FileNotFoundError", "does not exist on storage", "checkpoint_0"):
        assert noise not in done.stderr, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["counts"] == {"total": 8, "ok": 8, "error": 0}
    population = summary["scheduling"]["population"]
    assert population["exploits"] >= 1  # clones were made, and each restored its donor's checkpoint
    assert all(t["steps"] == 15 for t in summary["trials"])
