"""Conditional spaces: a choice whose values are sub-spaces (no Ray here)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.runner.preflight import sample_config
from raytuner.spec.loader import load_spec, validate_spec
from raytuner.spec.params import ChoiceParam, ConditionalParam, parse_space, space_to_data
from raytuner.strategies.codec import Codec

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
LR = "sklearn.linear_model.LogisticRegression"
HGB = "sklearn.ensemble.HistGradientBoostingClassifier"
SPACE = {"model": {"type": "choice", "values": [
    {"estimator": LR, "C": {"type": "float", "low": 0.01, "high": 10, "log": True}},
    {"estimator": HGB, "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
     "inner": {"type": "choice", "values": [None, {"k": {"type": "int", "low": 1, "high": 5}}]}},
    "plain",
]}}


def _raw() -> dict:
    return load_spec(EXPERIMENTS / "conditional.yaml").to_data()


def test_a_choice_of_sub_spaces_parses_and_round_trips() -> None:
    space = parse_space(SPACE)
    assert isinstance(space["model"], ConditionalParam)
    assert len(space["model"].branches) == 3 and space["model"].branches[2] == "plain"
    assert parse_space(space_to_data(space)) == space
    assert space_to_data(space)["model"]["type"] == "choice"
    # plain mappings stay plain choice values (nothing to sample inside them)
    assert isinstance(parse_space({"a": {"type": "choice", "values": [{"x": 1}, {"x": 2}]}})["a"], ChoiceParam)


@pytest.mark.parametrize(("node", "where"), [
    ({"type": "choice", "values": [1, {"type": "float", "low": 0, "high": 1}]}, "space.a.values.1"),
    ({"type": "choice", "values": [[{"type": "float", "low": 0, "high": 1}]]}, "space.a.values.0"),
    ({"type": "grid", "values": [{"x": {"type": "float", "low": 0, "high": 1}}]}, "space.a.values.0"),
    ({"type": "choice", "values": [{"x": {"type": "grid", "values": [1, 2]}}]}, "space.a.values.0.x"),
])
def test_a_parameter_node_where_a_plain_value_is_expected_is_a_spec_error(node: dict, where: str) -> None:
    with pytest.raises(SpecError, match=rf"{where}: got"):
        parse_space({"a": node})


def test_the_codec_decodes_only_the_chosen_branch_with_its_fixed_values() -> None:
    codec = Codec(parse_space(SPACE))
    assert [d.key for d in codec.dims] == ["model/@", "model/0/C", "model/1/learning_rate", "model/1/inner/@",
                                           "model/1/inner/1/k"]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        config = codec.decode(codec.sample(rng))
        model = config["model"]
        if model == "plain":
            seen.add("plain")
            continue
        seen.add(model["estimator"])
        keys = {"estimator", "C"} if model["estimator"] == LR else {"estimator", "learning_rate", "inner"}
        assert set(model) == keys
        if model["estimator"] == HGB and model["inner"] is not None:
            assert set(model["inner"]) == {"k"} and 1 <= model["inner"]["k"] <= 5
    assert seen == {LR, HGB, "plain"}


def test_optuna_define_by_run_suggests_only_the_chosen_branch() -> None:
    import optuna

    from raytuner.strategies._optuna import DefineByRun

    codec = Codec(parse_space(SPACE))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        DefineByRun(codec)(trial)
        branch = trial.params["model/@"]
        assert all(k.startswith(("model/@", f"model/{branch}/")) for k in trial.params)
        assert codec.decode(trial.params)["model"] is not None
        study.tell(trial, 0.0)


def test_ray_flattening_resolves_nested_domains() -> None:
    from raytuner.spec.space import to_ray

    sampler = to_ray(parse_space(SPACE))["model"].func
    np.random.seed(0)
    for _ in range(20):
        value = sampler()
        assert value == "plain" or isinstance(value, dict)
        if isinstance(value, dict):
            assert all(not hasattr(v, "sample") for v in value.values())


def test_sample_config_draws_a_branch() -> None:
    config = sample_config(parse_space(SPACE), 3)
    assert config["model"] == "plain" or config["model"]["estimator"] in (LR, HGB)


@pytest.mark.parametrize("strategy", ["random", "optuna-tpe"])
def test_conditional_experiment_plans_with_random_and_optuna(strategy: str) -> None:
    raw = _raw()
    raw["strategy"]["name"] = strategy
    plan = make_plan(validate_spec(raw))
    assert plan.trainable.setup().choice_key == "model"


@pytest.mark.parametrize("strategy", ["tpe", "grid", "bayesopt", "cmaes"])
def test_strategies_that_cannot_search_sub_spaces_refuse_naming_strategy_and_field(strategy: str) -> None:
    raw = _raw()
    raw["strategy"] = {"name": strategy, "seed": 0}
    with pytest.raises(SpecError, match=rf"space.model: .*'{strategy}' strategy supports"):
        make_plan(validate_spec(raw))


def test_each_family_is_checked_against_its_own_estimator() -> None:
    raw = _raw()
    bad = copy.deepcopy(raw)
    bad["space"]["model"]["values"][0]["solver"] = {"type": "choice", "values": ["lbfgs", "lbfgsx"]}
    with pytest.raises(SpecError, match=r"space.model.values.0.solver: got 'lbfgsx'; expected a value LogisticRegression accepts"):
        make_plan(validate_spec(bad))
    bad = copy.deepcopy(raw)
    bad["space"]["model"]["values"][1]["C"] = 1.0  # LogisticRegression's, not HistGradientBoosting's
    with pytest.raises(SpecError, match=r"space.model.values.1.C: .*a parameter of HistGradientBoostingClassifier"):
        make_plan(validate_spec(bad))
    bad = copy.deepcopy(raw)
    bad["space"]["model"]["values"][1]["max_iter"] = {"type": "int", "low": 0, "high": 10}
    with pytest.raises(SpecError, match=r"space.model.values.1.max_iter.low: got 0"):
        make_plan(validate_spec(bad))
    bad = copy.deepcopy(raw)
    del bad["space"]["model"]["values"][1]["estimator"]
    with pytest.raises(SpecError, match=r"space.model.values.1.estimator: missing; expected an estimator import path"):
        make_plan(validate_spec(bad))


def test_without_estimator_or_choice_the_trainable_asks_for_one() -> None:
    raw = _raw()
    raw["space"] = {"C": {"type": "float", "low": 0.1, "high": 1}}
    with pytest.raises(SpecError, match=r"trainable.estimator: .*a choice of estimators"):
        make_plan(validate_spec(raw))


def test_the_chosen_family_is_built_with_its_params_and_the_seed() -> None:
    from raytuner.trainables.sklearn.estimator import build_estimator

    plan = make_plan(validate_spec(_raw()))
    setup = plan.trainable.setup()
    model = build_estimator(setup, {"model": {"estimator": HGB, "learning_rate": 0.1, "max_iter": 30}})
    assert type(model).__name__ == "HistGradientBoostingClassifier"
    assert model.learning_rate == 0.1 and model.max_iter == 30 and model.random_state == 0
    model = build_estimator(setup, {"model": {"estimator": LR, "C": 2.0, "max_iter": 2000}})
    assert type(model).__name__ == "LogisticRegression" and model.C == 2.0


@pytest.mark.parametrize(("step", "ray_generator", "ray_samples"), [(1, True, 3), (2, False, 6)])
def test_grid_axes_under_random_count_grid_times_trials(step: int, ray_generator: bool, ray_samples: int) -> None:
    from raytuner.runner.tuning import tuner_plan

    raw = load_spec(EXPERIMENTS / "quickstart.yaml").to_data()
    raw["space"] = {"criterion": {"type": "grid", "values": ["gini", "entropy"]},
                    "min_samples_leaf": {"type": "int", "low": 1, "high": 9, "step": step}}
    raw["budget"]["trials"] = 3
    raw["strategy"] = {"name": "random", "seed": 0}
    plan = make_plan(validate_spec(raw))
    tuning = tuner_plan(plan)
    assert plan.num_samples == 6
    assert (tuning.source.ray_generator, tuning.num_samples) == (ray_generator, ray_samples)
    if not ray_generator:
        inner = plan.strategy.searcher(plan.search).searcher.inner
        configs = [inner.suggest(str(i)) for i in range(7)]
        assert [c["criterion"] for c in configs[:6]] == ["gini", "entropy"] * 3
        assert configs[6] == "FINISHED"
