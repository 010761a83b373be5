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
        parts = segments(rows(trial.path))  # split at every restore: exploits, and pauses PBT resumes
        bases = [base(part) for part in parts]
        for part, lr in zip(parts, bases):  # the lr in the optimiser after each step: base * gamma**epoch
            assert [row["lr"] for row in part] == pytest.approx([lr * GAMMA ** row["epoch"] for row in part])
        restores = [(before[-1]["epoch"], part[0]["epoch"], lr) for before, part, lr in zip(parts, parts[1:], bases[1:])]
        for event in schedules.get(trial.trial_id, []):
            if event.trial != trial.trial_id or event.donor_step >= EPOCHS:
                continue  # an ancestor's exploit, or a clone of a finished donor (nothing more to report)
            clones += 1
            new = [pair[1] for pair in (*event.changed.values(), *event.replaced.values())]
            # the clone's own last step, then the step after the donor checkpoint it restored, at the
            # mutated base lr decayed as far as the donor's schedule had gone (not the undecayed lr)
            assert any(own == event.step and first == event.donor_step + 1
                       and (not new or lr == pytest.approx(new[0], rel=1e-9)) for own, first, lr in restores), \
                (event, restores)
    assert clones >= 1, summary.scheduling.population


def base(part: list[dict[str, Any]]) -> float:
    """The base lr a run of reports decays from (its first report's lr, undone by gamma**epoch)."""
    return part[0]["lr"] / GAMMA ** part[0]["epoch"]
