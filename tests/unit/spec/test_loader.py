"""Spec parsing, overrides, schema, and every class of user error (exit 2, clear message)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from raytuner import ExperimentSpec, SpecError, load_spec, validate_spec
from raytuner.cli.main import main
from raytuner.spec.loader import apply_overrides, spec_json_schema
from raytuner.spec.params import ChoiceParam, FixedParam, FloatParam, IntParam

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"


def base() -> dict:
    return yaml.safe_load(QUICKSTART.read_text())


def test_quickstart_parses_into_typed_space() -> None:
    spec = load_spec(QUICKSTART)
    assert spec.name == "quickstart"
    assert isinstance(spec.space["n_estimators"], IntParam) and spec.space["n_estimators"].log
    assert isinstance(spec.space["max_depth"], ChoiceParam)
    assert isinstance(spec.space["max_features"], FloatParam)
    assert spec.metric.name == "accuracy" and spec.metric.mode == "max"


def test_spec_is_frozen_and_round_trips() -> None:
    spec = load_spec(QUICKSTART)
    with pytest.raises(Exception):
        spec.name = "other"  # type: ignore[misc]
    again = validate_spec(json.loads(json.dumps(spec.to_data())))
    assert again == spec


def test_spec_constructible_in_python_with_shorthands() -> None:
    spec = ExperimentSpec(
        name="py",
        trainable={"type": "function", "function": "raytuner.testing:quadratic"},
        space={"x": {"type": "float", "low": -1, "high": 1}, "nested": {"y": 3}},
        metric="loss",
    )
    assert spec.metric.name == "loss" and spec.metric.mode is None
    assert spec.space["nested"]["y"] == FixedParam(value=3)


def test_overrides_set_nested_values_with_yaml_types() -> None:
    data = apply_overrides(base(), ["budget.trials=20", "strategy.seed=3", "stop.target=0.9", "space.max_depth.values=[1, 2]"])
    assert data["budget"]["trials"] == 20 and data["strategy"]["seed"] == 3
    assert data["stop"] == {"target": 0.9}
    assert data["space"]["max_depth"]["values"] == [1, 2]
    spec = load_spec(QUICKSTART, ["budget.trials=20", "strategy.seed=3"])
    assert spec.budget.trials == 20 and spec.strategy.seed == 3


def test_execution_batch_off_unquoted_in_yaml_is_off_and_on_is_refused() -> None:
    assert load_spec(QUICKSTART, ["execution.batch=off"]).execution.batch == "off"  # YAML: false
    with pytest.raises(SpecError) as caught:
        load_spec(QUICKSTART, ["execution.batch=on"])  # YAML: true, not a batch size of 1
    assert "execution.batch" in str(caught.value) and "'auto', 'off' or a number" in str(caught.value)


def test_schema_describes_the_spec_and_the_space_dsl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(spec_json_schema()))
    assert {"name", "trainable", "space", "metric", "strategy", "budget"} <= set(schema["properties"])
    node = json.dumps(schema["$defs"]["SpaceNode"])
    for kind in ("FloatParam", "IntParam", "ChoiceParam", "GridParam", "FixedParam"):
        assert kind in node
    assert schema["$defs"]["BudgetSpec"]["additionalProperties"] is False


def test_every_experiment_validates_against_the_json_schema() -> None:
    """The schema editors use accepts every spec we ship (metric shorthand and lists
    included) and refuses what the loader refuses."""
    import jsonschema

    schema = spec_json_schema()
    specs = sorted(Path(__file__).resolve().parents[3].glob("experiments/*.yaml"))
    assert len(specs) >= 20
    forms = set()
    for path in specs:
        raw = yaml.safe_load(path.read_text())
        jsonschema.validate(raw, schema)
        forms.add(type(raw["metric"]).__name__)
    assert {"dict", "list"} <= forms, forms
    raw = yaml.safe_load(specs[0].read_text())
    for metric in ("accuracy", ["accuracy", {"name": "fit_time", "mode": "min"}]):  # the shorthands
        jsonschema.validate({**raw, "metric": metric}, schema)
        validate_spec({**raw, "metric": metric})
    for metric in ([], {"name": "accuracy", "mode": "up"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**raw, "metric": metric}, schema)


# Each row: overrides (or a raw spec edit), the field path the message must name, and a
# fragment of what it must say. Every one must exit 2 with one clear line, no traceback.
BAD = [
    (["budget.trial=3"], "budget.trial", "no such field"),
    (["budget.trials=abc"], "budget.trials", "valid integer"),
    (["budget.trials=0"], "budget.trials", "greater than or equal to 1"),
    (["resources.cpu=-1"], "resources.cpu", "greater than 0"),
    (["space.max_features.low=0.9"], "space.max_features", "low < high"),
    (["space.n_estimators.low=0"], "space.n_estimators", "low > 0 for a log scale"),
    (["space.max_depth.values=[]"], "space.max_depth", "non-empty list"),
    (["space.max_depth.type=choise"], "space.max_depth.type", "one of float, int, choice, grid, fixed"),
    (["space.foo.type=float"], "space.foo.low", "this field to be set"),
    (["trainable.estimator=sklearn.ensemble.Nope"], "trainable.estimator", "defined in module"),
    (["trainable.estimator=nopkg.Model"], "trainable.estimator", "importable module"),
    (["trainable.estimator=sklearn.metrics.accuracy_score"], "trainable.estimator", "scikit-learn estimator class"),
    (["trainable.data.source=sklearn:mnist"], "trainable.data.source", "bundled dataset"),
    (["trainable.data.source=missing.csv"], "trainable.data.source", "an existing file"),
    (["trainable.type=xgb"], "trainable.type", "sklearn"),
    (["metric.name=accurcy"], "metric.name", "scikit-learn scorer"),
    (["metric.mode=min"], "metric.mode", "greater-is-better"),
    (["strategy.name=nope"], "strategy.name", "random"),
    (["scheduler.name=nope"], "scheduler.name", "fifo"),
    (["strategy.name=grid"], "space.max_features", "grid"),
    (["space.bogus=1"], "space.bogus", "a parameter of RandomForestClassifier"),
    (["name=a b"], "name", "pattern"),
    (["trainable.params.n_estimators=5"], "<spec>", "both fixed"),
    (["trainable.data.source=sklearn:diabetes"], "trainable.estimator", "a regressor"),
    (["strategy.options.foo=1"], "strategy.options.foo", "no such field (a typo?); valid fields: (none"),
    (["strategy.name=manual", "strategy.options.config=[]"], "strategy.options.config", "valid fields: configs"),
]


@pytest.mark.parametrize("overrides,path,fragment", BAD, ids=[b[0][0] for b in BAD])
def test_bad_spec_exits_2_naming_field_value_and_expectation(
    overrides: list[str], path: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["validate", str(QUICKSTART)]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid spec"), err
    assert f"{path}:" in err, err
    assert fragment in err, err
    assert "Traceback" not in err


def test_problems_caused_by_an_override_name_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(QUICKSTART), "--set", "budget.trials=abc"]) == 2
    assert "(from --set budget.trials=abc)" in capsys.readouterr().err


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("name: x\n  bad: [\n", "valid YAML"),
        ("- just\n- a list\n", "a YAML mapping at the top level"),
        ("name: x\n", "trainable: missing"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(_write(tmp_path, text))]) == 2
    assert fragment in capsys.readouterr().err


def test_missing_file_and_unknown_csv_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "an existing spec file" in capsys.readouterr().err
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n1,2,0\n3,4,1\n")
    args = ["validate", str(QUICKSTART), "--set", f"trainable.data.source={csv}", "--set", "trainable.data.target=lbl"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "trainable.data.target: got 'lbl'" in err and "a, b, label" in err


def test_several_problems_are_all_reported() -> None:
    raw = base()
    raw["budget"] = {"trials": -1, "max_concurrent": "x"}
    with pytest.raises(SpecError) as info:
        validate_spec(raw)
    paths = {p.path for p in info.value.problems}
    assert {"budget.trials", "budget.max_concurrent"} <= paths


def test_console_script_prints_no_traceback_and_starts_no_ray(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "raytuner"
    proc = subprocess.run(
        [str(exe), "run", str(QUICKSTART), "--set", "metric.name=accurcy", "--set", f"storage.path={tmp_path}/r"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "metric.name" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_validate_and_strategies_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(QUICKSTART)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: quickstart") and "8 sample(s)" in out
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in ("random", "grid", "manual", "fifo"):
        assert f"  {name} " in out
