"""The report's contour, EDF, rungs, pauses and PBT lineage on hand-built experiments: no Ray."""

from __future__ import annotations

import pandas as pd
import pytest

from raytuner.console.report import decisions, figures, render, scores
from raytuner.console.report.importance import param_importance
from raytuner.results.experiment import Experiment
from raytuner.results.scheduling import EarlyStopping, ExploitEvent, PopulationHistory, SchedulingReport
from raytuner.results.summary import Summary, TrialRecord
from tests.unit.console.test_report import experiment


def summary_of(exp: Experiment, scheduling: SchedulingReport, best: str | None = None) -> Summary:
    trials = [TrialRecord(trial_id=r["trial_id"], status=r["status"], config={}, score=r["score"], steps=r["steps"],
                          time_s=r["time_s"]) for _, r in exp.trials.iterrows()]
    best_trial = next((t for t in trials if t.trial_id == best), None)
    return Summary(name=exp.name, experiment_path=exp.path, metric=exp.metric or "loss", mode=exp.mode or "min",
                   strategy="random", scheduler=scheduling.scheduler or "fifo", started_at="2026-01-01T00:00:00",
                   wall_time_s=10.0, trials=trials, best=best_trial, scheduling=scheduling)


def with_(exp: Experiment, **changes: object) -> Experiment:
    return Experiment(**{**exp.__dict__, **changes})


def test_contour_is_over_the_two_most_important_parameters() -> None:
    exp = experiment(12, failed=False)
    importance = param_importance(exp.trials, exp.params(), "min")
    names = scores.contour_params(exp, importance.values)
    assert names == list(importance.values)[:2]
    fig = scores.contour(exp, names)
    surface, points = fig.data
    assert surface.meta["kind"] == "surface" and points.meta["kind"] == "trials"
    assert list(surface.z) == list(exp.trials["score"]) and len(points.x) == 12
    assert fig.layout.xaxis.title.text == names[0] and fig.layout.yaxis.title.text == names[1]
    # without importance: the first two varied parameters, in the table's order
    assert scores.contour_params(exp, {}) == ["x", "n"]
    assert scores.contour(exp, ["x"]) is None and scores.contour(experiment(2), ["x", "n"]) is None


def test_contour_codes_categorical_parameters_with_their_labels() -> None:
    exp = experiment(9, failed=False)
    fig = scores.contour(exp, ["kind", "x"])
    assert set(fig.data[0].x) == {0, 1, 2} and list(fig.layout.xaxis.ticktext) == ["a", "b", "None"]
    # ints in a column pandas made float by a null: numbers by value, as ints, None last
    values, ticks = figures.axis_values(pd.Series([16.0, None, 8.0, 16.0]))
    assert values == [1, 2, 0, 1] and ticks["ticktext"] == ["8", "16", "None"]


def test_edf_counts_the_fraction_of_trials_at_or_below_each_score() -> None:
    exp = experiment(6)  # scores (i - 3)^2: 9, 4, 1, 0, 1, 4 and one failed trial without a score
    x, y = scores.edf_points(exp)
    assert x == [0.0, 1.0, 1.0, 4.0, 4.0, 9.0] and y == [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0]
    fig = scores.edf([exp, experiment(3)], ["a", "b"])
    assert [t.meta["experiment"] for t in fig.data] == ["a", "b"] and len(fig.data[1].x) == 3
    assert scores.edf([with_(exp, trials=exp.trials.assign(score=None))]) is None


@pytest.mark.parametrize("options", [{"grace_period": 1, "reduction_factor": 3},
                                     {"grace_period": 2, "reduction_factor": 2, "brackets": 2},
                                     {"grace_period": 1, "reduction_factor": 4, "max_t": 20}])
def test_asha_rungs_are_rays_own(options: dict) -> None:
    from ray.tune.schedulers import AsyncHyperBandScheduler

    from raytuner.schedulers._asha import AshaOptions, AshaScheduler

    ray_options = {"max_t": 10, **options}
    ray = AsyncHyperBandScheduler(metric="loss", mode="min", **ray_options)
    expected = sorted({float(level) for bracket in ray._brackets for level, _ in bracket._rungs})
    assert AshaScheduler(AshaOptions(**options)).rungs(10) == expected


@pytest.mark.parametrize("max_t, eta", [(9, 3), (16, 2), (10, 3), (20, 4), (6, 3)])
def test_hyperband_and_bohb_rungs_are_rays_own_brackets(max_t: int, eta: float) -> None:
    """Ray's brackets: their first milestone (r0) and the halvings a bracket makes on its way."""
    from ray.tune.schedulers import HyperBandScheduler as RayHyperBand

    from raytuner.schedulers._bohb import BohbScheduler
    from raytuner.schedulers._hyperband import HyperBandOptions, HyperBandScheduler

    ray = RayHyperBand(metric="loss", mode="min", max_t=max_t, reduction_factor=eta)
    expected: set[float] = set()
    for s in range(ray._s_max_1):
        if ray._get_r0(s) == 0:
            continue
        bracket = ray._create_bracket(s)
        for _ in range(bracket._halves):
            expected.add(float(bracket._cumul_r))
            bracket._r = int(min(bracket._r * eta, max_t))  # what successive_halving does to the milestone
            bracket._cumul_r = bracket._r
    levels = sorted(level for level in expected if level < max_t)
    assert HyperBandScheduler(HyperBandOptions(reduction_factor=eta)).rungs(max_t) == levels
    assert BohbScheduler(HyperBandOptions(reduction_factor=eta, max_t=max_t)).rungs() == levels
    assert levels  # every case above halves somewhere


def test_rungs_come_from_the_spec_and_name_the_rung_of_an_early_stop() -> None:
    exp = experiment(6)
    exp = with_(exp, spec={**exp.spec, "scheduler": {"name": "asha", "options": {"grace_period": 1}},
                           "stop": {"max_steps": 10}})
    assert decisions.rungs(exp) == [1.0, 3.0, 9.0]
    early = EarlyStopping(max_steps=10, trials=6, stopped_early=1, stopped_by={"scheduler": 1},
                          stop_reasons={"t1": "scheduler"}, steps_used=18, steps_if_all_ran=60, steps_saved=42,
                          stopped_trials=["t1"])
    exp = with_(exp, summary=summary_of(exp, SchedulingReport("asha", early_stopping=early)))
    fig = figures.learning_curves(exp)
    (stopped,) = [t for t in fig.data if t.meta and t.meta.get("kind") == "stopped"]
    assert stopped.text == ("t1: stopped early (scheduler) at step 3, rung 2",)
    assert [s.x0 for s in fig.layout.shapes] == [1.0, 3.0, 9.0]
    assert decisions.rungs(with_(exp, spec={"scheduler": {"name": "fifo"}})) == []
    assert decisions.rungs(with_(exp, spec={"scheduler": {"name": "nosuch"}})) == []
    assert decisions.rung_of(2, [1.0, 3.0]) == 1 and decisions.rung_of(0.5, [1.0]) is None


def test_a_restarted_step_counter_is_marked_as_a_pause() -> None:
    exp = experiment(3, failed=False)
    rows = []
    for tid, restored in (("t0", [1, 2, 3]), ("t1", [1, 1, 2]), ("t2", [1, 2, 1])):
        rows += [{"trial_id": tid, "loss": 5.0 - s, "training_iteration": s, "iterations_since_restore": r}
                 for s, r in zip((1, 2, 3), restored)]
    exp = with_(exp, history=pd.DataFrame(rows))
    assert decisions.pauses(exp) == [("t1", 1, 4.0, 2), ("t2", 2, 3.0, 3)]
    (paused,) = [t for t in figures.learning_curves(exp).data if t.meta and t.meta.get("kind") == "paused"]
    assert list(paused.x) == [1, 2] and "resumed from its checkpoint at step 2" in paused.text[0]
    assert "2 pauses" not in render(exp)  # no summary: the curves carry the marks, the note needs the summary


def test_pbt_lineage_draws_every_exploit_and_the_best_trials_ancestry() -> None:
    exp = experiment(4, failed=False)
    first = ExploitEvent(trial="t0", step=3, cloned="t2", donor_step=3, changed={"x": [2.0, 2.4]})
    second = ExploitEvent(trial="t1", step=6, cloned="t0", donor_step=6)
    population = PopulationHistory(exploits=2, events=[first, second],
                                   schedules={"t1": [first, second], "t0": [first]})
    exp = with_(exp, summary=summary_of(exp, SchedulingReport("pbt", population=population), best="t1"))
    fig = decisions.lineage(exp)
    lives = [t for t in fig.data if t.meta["kind"] == "life"]
    assert [t.meta["trial_id"] for t in lives] == ["t0", "t1", "t2", "t3"] and list(lives[0].x) == [1.0, 3.0]
    (clones,) = [t for t in fig.data if t.meta["kind"] == "clone"]
    assert list(clones.x) == [3, 3, None, 6, 6, None] and list(clones.y) == ["t2", "t0", None, "t0", "t1", None]
    assert "t0 at step 3 cloned t2 at its step 3; x: 2.0 -> 2.4" in clones.text
    (best,) = [t for t in fig.data if t.meta["kind"] == "best"]
    assert best.meta["events"] == 2 and best.name == "ancestry of the best trial t1"
    html = render(exp)
    assert "PBT lineage" in html and decisions.lineage(experiment(4)) is None
    assert decisions.pauses(exp) == []  # PBT clones are exploits, not pauses


def test_the_page_has_the_new_sections() -> None:
    html = render(experiment(8))
    for title in ("Distribution of scores (EDF)", "Contour", "Parameter importance"):
        assert f"<h2>{title}</h2>" in html
    assert "Contour: loss over" in html
