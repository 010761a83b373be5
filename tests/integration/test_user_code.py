"""Your own code: objects defined in the calling script (``__main__``) and modules beside the spec.

One subprocess (a real ``python script.py``, so its objects live in ``__main__``; it starts its
own local Ray once) runs three experiments: a function objective defined in the script, a torch
model class defined in the script, and ``raytuner run spec.yaml`` through the CLI's ``main`` for a
spec whose ``trainable.function`` is ``mymod:objective`` with ``mymod.py`` beside the spec, from
another directory and without PYTHONPATH pointing there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import json, sys
    import raytuner
    from raytuner.cli.main import main
    from raytuner.results.summary import latest_experiment, read_summary
    from torch import nn

    def objective(config):
        return {"score": -(config["x"] - 2.0) ** 2}

    class Net(nn.Module):
        def __init__(self, hidden=8):
            super().__init__()
            self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

        def forward(self, x):
            return self.layers(x)

    storage, spec_file = sys.argv[1], sys.argv[2]
    common = {"budget": {"trials": 1}, "storage": {"path": storage}}
    fn = raytuner.run({"name": "objective", "trainable": {"type": "function", "function": objective},
                       "space": {"x": {"type": "grid", "values": [0.0, 2.0]}},
                       "metric": {"name": "score", "mode": "max"}, **common}, show_progress=False)
    net = raytuner.run({"name": "net", "trainable": {"type": "torch", "model": {"type": "class", "path": Net},
                                                     "data": {"source": "sklearn:digits", "subset": 100},
                                                     "epochs": 1, "threads": 1},
                        "space": {"model": {"args": {"hidden": 4}}},
                        "metric": {"name": "val_accuracy", "mode": "max"}, **common}, show_progress=False)
    code = main(["run", spec_file, "--set", f"storage.path={storage}/beside"])
    beside = read_summary(latest_experiment(f"{storage}/beside"))
    ddp_code = main(["run", spec_file.replace("spec.yaml", "ddp.yaml"), "--set", f"storage.path={storage}/ddp"])
    ddp = read_summary(latest_experiment(f"{storage}/ddp"))
    print(json.dumps({
        "objective": {"scores": sorted(t.score for t in fn.trials), "best_x": fn.best.config["x"], "path": fn.experiment_path},
        "net": {"status": [t.status for t in net.trials], "scores": [t.score for t in net.trials], "path": net.experiment_path},
        "beside": {"code": code, "scores": sorted(t.score for t in beside.trials)},
        "ddp": {"code": ddp_code, "status": [t.status for t in ddp.trials]},
    }))
''')

BESIDE_SPEC = """
name: beside
trainable: {type: function, function: "mymod:objective"}
space: {x: {type: grid, values: [1.0, 3.0]}}
metric: {name: score, mode: max}
budget: {trials: 1}
"""


MYMOD = textwrap.dedent('''
    from torch import nn

    def objective(config):
        return {"score": -(config["x"] - 1.0) ** 2}

    class Net(nn.Module):  # imported by name in the trial and in each DDP worker process
        def __init__(self, hidden=8):
            super().__init__()
            self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

        def forward(self, x):
            return self.layers(x)
''')

DDP_SPEC = """
name: ddp_beside
trainable:
  type: torch
  model: {type: class, path: "mymod:Net", args: {hidden: 4}}
  data: {source: "sklearn:digits", subset: 100}
  epochs: 1
  threads: 1
  workers: 2
metric: {name: val_accuracy, mode: max}
budget: {trials: 1}
resources: {cpu: 1}
"""


def test_objects_in_main_and_modules_beside_the_spec_run_on_ray(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "script.py").write_text(SCRIPT)
    project = tmp_path / "project"
    project.mkdir()
    (project / "mymod.py").write_text(MYMOD)
    (project / "spec.yaml").write_text(BESIDE_SPEC)
    (project / "ddp.yaml").write_text(DDP_SPEC)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["PYTHONPATH"] = str(ROOT)  # raytuner itself; nothing points at the project folder
    done = subprocess.run([sys.executable, str(tmp_path / "scripts" / "script.py"), str(tmp_path / "runs"),
                           str(project / "spec.yaml")], capture_output=True, text=True, env=env, cwd=elsewhere,
                          timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # the function defined in the script ran in every trial (by value), with its scores
    assert out["objective"]["scores"] == [-4.0, 0.0] and out["objective"]["best_x"] == 2.0
    saved = yaml.safe_load((Path(out["objective"]["path"]) / "spec.yaml").read_text())
    assert saved["trainable"]["function"] == "__main__:objective (by value)"
    assert (Path(out["objective"]["path"]) / "objects.pkl").is_file()  # what a resume puts back
    # the torch model class defined in the script trained
    assert out["net"]["status"] == ["ok"] and 0.0 <= out["net"]["scores"][0] <= 1.0
    saved = yaml.safe_load((Path(out["net"]["path"]) / "spec.yaml").read_text())
    assert saved["trainable"]["model"]["path"] == "__main__:Net (by value)"
    # mymod.py beside the spec: imported on the driver (validation) and in the trials
    assert out["beside"] == {"code": 0, "scores": [-4.0, 0.0]}
    # and in the processes of a data-parallel (DDP) trial: the Ray Train workers import mymod too
    assert out["ddp"] == {"code": 0, "status": ["ok"]}
