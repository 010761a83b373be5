"""PBT on a tiny torch MLP, on the shared local Ray (issue #16, item 6): every clone goes
on with its donor's decayed lr schedule at the mutated base, and the lineage records the
exact steps (the clone's own last step, the step of the donor checkpoint it restored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

import raytuner  # noqa: E402

EPOCHS, GAMMA = 5, 0.5


def rows(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path, "result.json").read_text().splitlines() if line.strip()]


def segments(trial_rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A trial's reports split where it was restored from a checkpoint (a PBT exploit)."""
    out: list[list[dict[str, Any]]] = []
    for row in trial_rows:
        if not out or row["iterations_since_restore"] == 1:
            out.append([])
        out[-1].append(row)
    return out


def test_clones_continue_the_donors_step_schedule_and_the_lineage_is_exact(ray_local: None, storage: Path) -> None:
    summary = raytuner.run({
        "name": "pbt_lr",
        "trainable": {"type": "torch", "model": {"type": "mlp", "depth": 1, "width": 8},
                      "data": {"source": "sklearn:digits", "subset": 150, "batch_size": 50},
                      "optimizer": {"name": "sgd"}, "schedule": {"name": "step", "step_size": 1, "gamma": GAMMA},
                      "epochs": EPOCHS, "overlap_reports": False},
        "space": {"optimizer": {"lr": {"type": "grid", "values": [0.0005, 0.001, 0.3, 0.5]}}},
        "metric": {"name": "val_accuracy", "mode": "max"},
        "strategy": {"name": "grid"},
        "scheduler": {"name": "pbt", "options": {"perturbation_interval": 2, "quantile_fraction": 0.5}},
        "budget": {"max_concurrent": 4},
        "refit": False,
        "storage": {"path": str(storage)},
    }, show_progress=False)
    assert summary.counts["ok"] == 4
    schedules = summary.scheduling.population.schedules
    clones = 0
    for trial in summary.trials:
        parts = segments(rows(trial.path))
        own = [e for e in schedules.get(trial.trial_id, []) if e.trial == trial.trial_id]
        own = [e for e in own if e.donor_step < EPOCHS]  # a clone of a finished donor reports nothing more
        assert len(parts) == len(own) + 1, (trial.trial_id, [[r["epoch"] for r in p] for p in parts], own)
        for before, part, event in zip(parts, parts[1:], own):
            clones += 1
            assert before[-1]["epoch"] == event.step  # the clone's own step when it was exploited
            assert part[0]["epoch"] == event.donor_step + 1  # it restored the donor's checkpoint of that step
            for row in part:  # the lr in the optimiser after each step: base * gamma**epoch, base mutated
                base = row["lr"] / GAMMA ** row["epoch"]
                assert base == pytest.approx(part[0]["lr"] / GAMMA ** part[0]["epoch"], rel=1e-9)
            base = part[0]["lr"] / GAMMA ** part[0]["epoch"]
            mutated = {v[1] for v in (*event.changed.values(), *event.replaced.values())}
            assert not mutated or any(base == pytest.approx(v, rel=1e-9) for v in mutated), (base, event)
        for row in parts[0]:  # before any exploit: the trial's first config, decayed
            assert row["lr"] == pytest.approx(parts[0][0]["lr"] * GAMMA ** (row["epoch"] - parts[0][0]["epoch"]))
    assert clones >= 1, summary.scheduling.population
