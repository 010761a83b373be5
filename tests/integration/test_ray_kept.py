"""A process keeps the local Ray it started across fits (as joblib keeps its executor) and
shuts it down at exit: a second TuneSearchCV.fit and a raytuner.run in the same process
start no new Ray. Runs in a subprocess of its own (the suite's shared Ray must not be it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import ray
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import raytuner
from raytuner.runner import session
from raytuner.sklearn import TuneSearchCV

X, y = load_iris(return_X_y=True)
seen = []
def fit():
    TuneSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, n_trials=2, cv=2, n_jobs=2,
                 random_state=0).fit(X, y)
    seen.append({"up": ray.is_initialized(), "node": ray.get_runtime_context().get_node_id(),
                 "starts": session.local_ray_starts()})
fit()
fit()
spec = raytuner.load_spec(sys.argv[1], ["budget.trials=2", "trainable.cv.folds=2", "storage.path=" + sys.argv[2],
                                         "space.n_estimators.high=12"])
raytuner.run(spec, show_progress=False)
seen.append({"up": ray.is_initialized(), "node": ray.get_runtime_context().get_node_id(),
             "starts": session.local_ray_starts()})
print(json.dumps({"seen": seen, "temp_dir": session._KEPT.temp_dir}))
"""


def test_second_fit_and_run_reuse_the_process_ray_and_exit_stops_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "experiments" / "quickstart.yaml"),
                           str(tmp_path / "results")], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    seen = out["seen"]
    assert [s["up"] for s in seen] == [True, True, True]
    assert [s["starts"] for s in seen] == [1, 1, 1]  # one start for two fits and a run
    assert len({s["node"] for s in seen}) == 1
    # at exit: Ray's processes of that session are gone, its temp dir removed
    temp_dir = out["temp_dir"]
    assert temp_dir and not Path(temp_dir).exists()
    assert _processes_naming(temp_dir) == []


def _processes_naming(text: str) -> list[int]:
    """Pids of the processes whose command line names ``text`` (Ray's name their temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found
