"""Schedulers and stoppers run for real on a local Ray, on cheap function trainables."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any


import raytuner
from raytuner.console.summary import print_summary
from raytuner.results.scheduling import ExploitEvent
from raytuner.results.summary import Summary, read_summary


def run(storage: Path, function: str, values: list[float], scheduler: dict[str, Any], *, key: str = "x",
        metric: str = "loss", mode: str = "min", steps: int = 9, concurrent: int | None = 2, **extra: Any) -> Summary:
    spec: dict[str, Any] = {
        "name": "es",
        "trainable": {"type": "function", "function": f"raytuner.testing:{function}", "params": {"steps": steps}},
        "space": {key: {"type": "grid", "values": values}},
        "metric": {"name": metric, "mode": mode},
        "strategy": {"name": "grid"},
        "scheduler": scheduler,
        "stop": {"max_steps": steps},
        "budget": {"max_concurrent": concurrent},
        "storage": {"path": str(storage)},
    }
    spec.update(extra)
    return raytuner.run(spec, show_progress=False)


def by_value(summary: Summary, key: str = "x") -> dict[float, Any]:
    return {t.config[key]: t for t in summary.trials}


def rows(trial: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(trial.path, "result.json").read_text().splitlines() if line.strip()]


def test_asha_stops_bad_trials_before_max_t(ray_local: None, storage: Path) -> None:
    summary = run(storage, "curve", [3.0, 3.5, 8.0, 9.0, 10.0],
                  {"name": "asha", "options": {"grace_period": 1, "reduction_factor": 3}}, steps=6)
    trials = by_value(summary)
    assert trials[3.0].steps == 6  # the best runs to max_t
    stopped = [x for x, t in trials.items() if t.steps < 6]
    assert {8.0, 9.0, 10.0} & set(stopped) and 3.0 not in stopped
    early = summary.scheduling.early_stopping
    assert early.stopped_early == len(stopped) and early.stopped_by == {"scheduler": len(stopped)}
    assert early.steps_saved == 6 * 5 - sum(t.steps for t in summary.trials) > 0
    assert read_summary(summary.experiment_path).scheduling == summary.scheduling  # saved in summary.json
    out = io.StringIO()
    print_summary(summary, out)
    assert (f"early stopping: {len(stopped)} of 5 trials stopped before 6 steps "
            f"({len(stopped)} by the asha scheduler)") in out.getvalue()


def test_median_stops_a_curve_below_the_median(ray_local: None, storage: Path) -> None:
    summary = run(storage, "curve", [3.0, 3.2, 2.8, 9.0],
                  {"name": "median", "options": {"grace_period": 2, "min_samples_required": 3}}, concurrent=1)
    trials = by_value(summary)
    assert [trials[x].steps for x in (3.0, 3.2, 2.8)] == [9, 9, 9]
    assert trials[9.0].steps == 2  # stopped at the end of its grace period
    assert summary.scheduling.early_stopping.stopped_trials == [trials[9.0].trial_id]


def test_hyperband_pauses_resumes_from_checkpoints_and_stops(ray_local: None, storage: Path) -> None:
    """max_t=9, reduction_factor=3: Ray's first band has a bracket of 3 trials that run to
    9 steps, then one of 5 places halving at step 3. The grid's trials join the brackets
    in order (all exist before any reports), so 6, 8 and 10 share the halving bracket:
    it keeps ceil(5/3)=2 of them. A kept trial that reached step 3 before the bracket was
    full was paused and resumes from its checkpoint; the one whose report completes the
    bracket (which one depends on how the machine schedules them) goes straight on."""
    summary = run(storage, "resumable_curve", [3.0, 4.0, 5.0, 6.0, 8.0, 10.0],
                  {"name": "hyperband", "options": {"reduction_factor": 3}}, concurrent=None)
    trials = by_value(summary)
    assert all(t.status == "ok" for t in summary.trials)
    assert {x: t.steps for x, t in trials.items()} == {3.0: 9, 4.0: 9, 5.0: 9, 6.0: 9, 8.0: 9, 10.0: 3}
    resumed = sorted(t.config["x"] for t in summary.trials if any(r["restored_step"] > 0 for r in rows(t)))
    # the first of the bracket to reach step 3 always waits for the others, so one resumes at least
    assert resumed and set(resumed) <= {6.0, 8.0}, "the trials kept at the rung resume from their checkpoints"
    for x in resumed:  # the step counter continued from the checkpoint, it did not restart
        for row in rows(trials[x]):
            assert row["step"] == row["training_iteration"] > row["restored_step"] in (0, 3)
    assert summary.scheduling.early_stopping.stopped_trials == [trials[10.0].trial_id]
    from raytuner.console.report import decisions  # the report marks exactly the resumed trials as paused
    from raytuner.results.experiment import read_experiment

    paused = decisions.pauses(read_experiment(summary.experiment_path))
    assert sorted(p[0] for p in paused) == sorted(trials[x].trial_id for x in resumed)
    assert all(step == 3 and again == 4 for _, step, _, again in paused)


def searched_curves(storage: Path, *, strategy: str, scheduler: str) -> Summary:
    """9 resumable curves (optimum x=3, 9 steps) from a searcher, under a HyperBand-style scheduler, no concurrency limit."""
    return raytuner.run({
        "name": f"{strategy}-{scheduler}",
        "trainable": {"type": "function", "function": "raytuner.testing:resumable_curve", "params": {"steps": 9}},
        "space": {"x": {"type": "float", "low": 0, "high": 10}},
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": strategy, "seed": 0},
        "scheduler": {"name": scheduler, "options": {"reduction_factor": 3}},
        "stop": {"max_steps": 9},
        "budget": {"trials": 9},
        "storage": {"path": str(storage)},
    }, show_progress=False)


def test_hyperband_halves_brackets_with_a_model_based_searcher(ray_local: None, storage: Path) -> None:
    """tpe proposes the configs; 9 trials fill HyperBand's brackets of 3 (no halving),
    5 (halved at step 3: 2 of 5 go on) and 1. Without a concurrency limit every trial of
    a bracket exists before its rung, so exactly 3 trials stop at step 3."""
    summary = searched_curves(storage, strategy="tpe", scheduler="hyperband")
    assert sorted(t.steps for t in summary.trials) == [3, 3, 3, 9, 9, 9, 9, 9, 9]
    assert summary.scheduling.early_stopping.stopped_by == {"scheduler": 3}


def test_bohb_halves_its_bracket_and_keeps_the_best(ray_local: None, storage: Path) -> None:
    """BOHB proper (the bohb strategy with the bohb scheduler): 9 trials share one
    bracket that keeps 3 after step 1 and 1 after step 3; the one that runs all 9 steps
    is the best of the three that reached step 3 (closest to the optimum x=3)."""
    summary = searched_curves(storage, strategy="bohb", scheduler="bohb")
    assert sorted(t.steps for t in summary.trials) == [1, 1, 1, 1, 1, 1, 3, 3, 9]
    assert summary.scheduling.early_stopping.stopped_by == {"scheduler": 8}
    survivors = [t for t in summary.trials if t.steps >= 3]
    assert max(survivors, key=lambda t: t.steps) is min(survivors, key=lambda t: abs(t.config["x"] - 3.0))


def check_clones(summary: Summary) -> list[ExploitEvent]:
    """Every final trial's lineage (carried in its checkpointed state) matches the
    recorded PBT schedule, and each restore continued the donor's step and state."""
    population = summary.scheduling.population
    events = population.events
    assert population.exploits == len(events) >= 1
    schedules = population.schedules
    assert sorted(t.trial_id for t in summary.trials) == sorted(Path(t.path).name[len("trial_"):] for t in summary.trials)
    assert len({t.trial_id for t in summary.trials}) == len(summary.trials)
    for trial in summary.trials:
        assert trial.steps == 12 and trial.metrics["step"] == 12  # step counter == training_iteration
        history = json.loads(trial.metrics["history"])
        for before, entry in zip(history, history[1:]):  # the state restored is the one written
            assert entry["step"] >= 1
            expected = before["score"] + (entry["step"] - before["step"]) * before["rate"]
            assert math.isclose(entry["score"], expected), (before, entry)
        assert math.isclose(trial.score, history[-1]["score"] + (12 - history[-1]["step"]) * history[-1]["rate"])
        clones = [(e["me"], e["from"], e["step"], e["rate"]) for e in history if e["from"] not in ("", e["me"])]
        schedule = schedules.get(trial.trial_id, [])
        if schedule and schedule[-1].donor_step >= 12:
            schedule = schedule[:-1]  # cloned a finished donor: nothing left to run, its last report is the donor's
        recorded = [(e.trial, e.cloned, e.donor_step, e.changed["rate"][1] if e.changed else None)
                    for e in schedule]
        assert [c[:3] for c in clones] == [r[:3] for r in recorded], (clones, recorded)
        for clone, record in zip(clones, recorded):
            assert record[3] is None or math.isclose(clone[3], record[3])  # the mutated rate was used
    return events


def test_pbt_clones_a_trial_from_its_checkpoint(ray_local: None, storage: Path) -> None:
    summary = run(storage, "growth", [0.1, 0.2, 0.8, 0.9],
                  {"name": "pbt", "options": {"perturbation_interval": 3,
                                              "mutations": {"rate": {"type": "float", "low": 0.0, "high": 1.0}}}},
                  key="rate", metric="score", mode="max", steps=12, concurrent=4)
    events = check_clones(summary)
    for event in events:
        (old, new), = event.changed.values()
        assert 0.0 <= new <= 1.0 and old != new
    schedules = summary.scheduling.population.schedules
    assert set(schedules) == {e.trial for e in events}
    out = io.StringIO()
    print_summary(summary, out)
    text = out.getvalue()
    assert f"pbt: {len(events)} exploits" in text
    assert f"cloned {events[0].cloned}" in text


def test_pb2_clones_with_values_inside_bounds(ray_local: None, storage: Path) -> None:
    summary = run(storage, "growth", [0.1, 0.2, 0.8, 0.9],
                  {"name": "pb2", "options": {"perturbation_interval": 3, "bounds": {"rate": [0.0, 1.0]}}},
                  key="rate", metric="score", mode="max", steps=12, concurrent=4)
    check_clones(summary)
    assert all(0.0 <= t.config["rate"] <= 1.0 for t in summary.trials)


def test_trial_plateau_and_target_stop_trials(ray_local: None, storage: Path) -> None:
    summary = run(storage, "flat", [1.0, 5.0], {"name": "fifo"}, steps=10,
                  stop={"max_steps": 10, "target": 2.0, "plateau": {"window": 3, "grace_steps": 3, "std": 0.001}})
    trials = by_value(summary)
    assert trials[1.0].steps == 1  # loss 1.0 <= target 2.0 at once
    assert trials[5.0].steps == 3  # a flat curve plateaus after 3 steps
    early = summary.scheduling.early_stopping
    assert early.stopped_early == 2 and early.stopped_by == {"plateau": 1, "target": 1}
    assert early.stop_reasons == {trials[1.0].trial_id: "target", trials[5.0].trial_id: "plateau"}
    out = io.StringIO()
    print_summary(summary, out)
    assert "2 of 2 trials stopped before 10 steps (1 on a plateau, 1 at the target)" in out.getvalue()


def test_experiment_plateau_stops_the_experiment(ray_local: None, storage: Path) -> None:
    summary = run(storage, "flat", [1.0, 1.0, 1.0, 1.0], {"name": "fifo"}, steps=10, concurrent=1,
                  stop={"max_steps": 10, "experiment_plateau": {"top": 3, "std": 0.001}})
    assert sum(t.steps for t in summary.trials) < 10
    early = summary.scheduling.early_stopping
    assert early.stopped_early >= 1 and set(early.stopped_by) == {"experiment_plateau"}


def test_time_limit_ends_the_run_and_is_the_stop_reason(ray_local: None, storage: Path) -> None:
    """Trials that cannot finish (a million steps) end at the time limit, and that is their
    recorded stop reason: facts from the run, not from the clock (no bound on how long it took)."""
    steps = 1_000_000  # 14 hours each at full length
    trainable = {"type": "function", "function": "raytuner.testing:curve", "params": {"steps": steps, "sleep": 0.05}}
    for limit in (8, 30, 90):  # a busy machine may not start a trial within 8 s: then try a longer limit
        summary = run(storage, "curve", [3.0, 4.0], {"name": "fifo"}, steps=steps, trainable=trainable,
                      budget={"max_concurrent": 2, "time_limit_s": limit})
        assert all(t.steps < steps for t in summary.trials)
        reported = [t for t in summary.trials if t.status == "ok" and t.steps > 0]
        if reported:
            break
    assert reported, summary.trials  # a trial that had not reported by the limit has nothing to stop
    early = summary.scheduling.early_stopping
    assert early.stopped_early == len(reported)
    assert early.stopped_by == {"time_limit": len(reported)} and set(early.stop_reasons.values()) == {"time_limit"}
    out = io.StringIO()
    print_summary(summary, out)
    n = len(reported)
    assert f"{n} of {early.trials} trials stopped before {steps} steps ({n} at the time limit)" in out.getvalue()


def test_pbt_credits_stops_to_the_condition_not_the_scheduler(ray_local: None, storage: Path) -> None:
    """PBT never stops a trial: one that reached stop.target before its last step is reported
    as stopped at the target (issue #16), while clones still end at max_steps."""
    summary = run(storage, "resumable_curve", [3.0, 0.0, 6.0, 5.0],
                  {"name": "pbt", "options": {"perturbation_interval": 3,
                                              "mutations": {"x": {"type": "float", "low": 0.0, "high": 6.0}}}},
                  steps=9, concurrent=4, stop={"max_steps": 9, "target": 2.0})
    early = summary.scheduling.early_stopping
    assert early is not None and early.stopped_early >= 1  # x=3: 10/step <= 2 at step 5
    assert set(early.stopped_by) == {"target"}, early
    assert all(t.steps == 9 or early.stop_reasons[t.trial_id] == "target" for t in summary.trials)
    out = io.StringIO()
    print_summary(summary, out)
    assert "at the target" in out.getvalue() and "by the pbt scheduler" not in out.getvalue()
