"""The sklearn refit/export path does not import torch (skops would, through scikit-learn's
estimator listing: raytuner.results.export hides it for that import), and still writes a
model.skops that loads back; torch stays importable afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import json, sys
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from raytuner.results.export import load_model, save_model
import raytuner.runner.refit  # the refit step's own imports
X, y = load_iris(return_X_y=True)
model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
meta = save_model(sys.argv[1], model, {"what": "test"})
back = load_model(sys.argv[1] + "/model.skops").model
out = {"files": meta["files"], "skipped": meta["skipped"], "same": (back.predict(X) == model.predict(X)).all().item(),
       "torch_after_export": "torch" in sys.modules}
try:
    import torch  # noqa: F401
    out["torch_importable"] = True
except ImportError:
    out["torch_importable"] = False
print(json.dumps(out))
"""


def test_export_writes_skops_without_importing_torch(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "model")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["files"] == ["model.joblib", "model.skops"] and out["skipped"] == {}
    assert out["same"] is True
    assert out["torch_after_export"] is False
    assert out["torch_importable"] is True
