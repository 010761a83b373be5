"""XGBoost / LightGBM boosting rounds as the fidelity, on Ray: PBT clones continue the donor's booster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import raytuner

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")


def _spec(storage: Path, estimator: str, params: dict[str, Any], space: dict[str, Any],
          scheduler: dict[str, Any], steps: int) -> dict[str, Any]:
    return {
        "name": "rounds",
        "trainable": {"type": "sklearn", "estimator": estimator, "params": params,
                      "data": {"source": "sklearn:breast_cancer"}, "cv": {"folds": 4},
                      "fidelity": {"kind": "rounds", "steps": steps}},
        "space": space, "metric": "neg_log_loss", "strategy": {"name": "grid", "seed": 0},
        "scheduler": scheduler, "budget": {"max_concurrent": 4}, "storage": {"path": str(storage)},
    }


def _rows(trial: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(trial.path, "result.json").read_text().splitlines() if line.strip()]


def test_pbt_clones_continue_the_donors_rounds(ray_local: None, storage: Path) -> None:
    spec = _spec(storage, "xgboost.XGBClassifier", {"n_estimators": 24, "max_depth": 2},
                 {"learning_rate": {"type": "grid", "values": [0.001, 0.002, 0.4, 0.5]}},
                 {"name": "pbt", "options": {"perturbation_interval": 2, "quantile_fraction": 0.5,
                                             "mutations": {"learning_rate": {"type": "float", "low": 0.1, "high": 0.6}}}},
                 steps=6)
    summary = raytuner.run(spec, show_progress=False)
    assert summary.scheduling.population.exploits >= 1
    for trial in summary.trials:
        assert trial.status == "ok" and trial.metrics["rounds"] == 24
        for row in _rows(trial):  # every report: 4 rounds per step, also after a clone took a donor's booster
            assert row["rounds"] == 4 * row["step"]
    cloned = {e.trial for e in summary.scheduling.population.events}
    slow = next(t for t in summary.trials if t.trial_id in cloned)
    # restarted at round 0 with the slow rate the clone would sit near log loss 0.69; it continued the donor's
    assert slow.score > -0.3

