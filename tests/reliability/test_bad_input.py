"""Bad input is refused cleanly (#12 item 8): exit 2, one `error:` message, no traceback,
nothing written, and no Ray: a table of bad specs, overrides and data files run through
`raytuner run`, and a property test of generated bad specs through `raytuner validate`.

Everything runs in-process. Ray is watched, not used: `ray.init` and the local start are
replaced by recorders, so a row that reached Ray is seen (and never starts one). Data
mistakes (`phase="data"`) are found by loading the data before Ray starts. Rows whose
mistake only the sample fit shows (`phase="sample"`) are refused in `run_experiment` after
Ray's start-up began (the sample fit overlaps it): for them the test
asserts the error came before any Tuner was built; `test_sample_fit_failure_on_real_ray`
runs one such row in a subprocess on a real local Ray.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from raytuner.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"


def base_spec(storage: Path) -> dict[str, Any]:
    spec = yaml.safe_load(QUICKSTART.read_text())
    spec["storage"] = {"path": str(storage)}
    spec["budget"] = {"trials": 2, "max_concurrent": 1}
    return spec


def write_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({"age": rng.normal(size=n), "income": rng.normal(size=n),
                          "city": rng.choice(["a", "b"], n), "label": rng.integers(0, 2, n)})
    frame.to_csv(folder / "good.csv", index=False)
    holes = frame.copy()
    holes.loc[::7, "age"] = np.nan
    holes.loc[::11, "income"] = np.nan
    holes.to_csv(folder / "holes.csv", index=False)
    floats = frame.assign(label=rng.normal(size=n))
    floats.to_csv(folder / "continuous.csv", index=False)
    frame.head(3).to_csv(folder / "tiny.csv", index=False)
    (folder / "header.csv").write_text("age,income,city,label\n")
    (folder / "empty.csv").write_text("")
    (folder / "notes.txt").write_text("age,label\n1,0\n")
    (folder / "binary.csv").write_bytes(b"\x00\xff\xfe\x00garbage\x89PNG\r\n")


def data(source: str, target: str | None = "label") -> Callable[[dict, Path], dict]:
    def mutate(spec: dict, folder: Path) -> dict:
        spec["trainable"]["data"] = {"source": str(folder / source) if "." in source else source, "target": target}
        return spec
    return mutate


def setting(**values: Any) -> Callable[[dict, Path], dict]:
    """Set dotted keys of the spec (values as given, any type)."""
    def mutate(spec: dict, folder: Path) -> dict:
        for dotted, value in values.items():
            node = spec
            *parents, last = dotted.split("__")
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
        return spec
    return mutate


def both(*mutations: Callable[[dict, Path], dict]) -> Callable[[dict, Path], dict]:
    def mutate(spec: dict, folder: Path) -> dict:
        for m in mutations:
            spec = m(spec, folder)
        return spec
    return mutate


def raw(text: str | bytes) -> Callable[[dict, Path], str | bytes]:
    return lambda spec, folder: text


def nested(depth: int) -> dict:
    node: dict = {"a": 1}
    for _ in range(depth):
        node = {"a": node}
    return node


SVC = {"trainable__estimator": "sklearn.svm.SVC", "trainable__params": {},
       "space": {"C": {"type": "float", "low": 0.1, "high": 1.0}}}


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[dict, Path], Any] | None = None
    sets: list[str] = field(default_factory=list)
    expect: str = ""  # in the message: the field (and value) it names
    phase: str = "plan"  # "plan": by the plan; "data": by the data check (both before Ray); "sample": by the sample fit


CASES = [
    # wrong types
    Case("trials-text", sets=["budget.trials=many"], expect="budget.trials"),
    Case("trials-negative", sets=["budget.trials=-3"], expect="budget.trials"),
    Case("trials-list", setting(budget__trials=[1, 2]), expect="budget.trials"),
    Case("low-text", sets=["space.n_estimators.low=ten"], expect="space.n_estimators.low"),
    Case("metric-list", setting(metric=[1, 2]), expect="metric"),
    Case("cpu-text", sets=["resources.cpu=abc"], expect="resources.cpu"),
    Case("folds-one", sets=["trainable.cv.folds=1"], expect="trainable.cv.folds"),
    Case("time-limit-negative", sets=["budget.time_limit_s=-5"], expect="budget.time_limit_s"),
    Case("space-a-list", setting(space=[1, 2, 3]), expect="space"),
    Case("param-type-unknown", sets=["space.max_depth={type: uniform, low: 1, high: 3}"], expect="space.max_depth.type"),
    Case("low-above-high", sets=["space.n_estimators={type: int, low: 50, high: 10}"], expect="space.n_estimators"),
    Case("choice-empty", sets=["space.max_depth={type: choice, values: []}"], expect="space.max_depth"),
    # unknown names
    Case("unknown-field", setting(colour="blue"), expect="colour"),
    Case("unknown-strategy", sets=["strategy.name=nope"], expect="strategy.name"),
    Case("unknown-scheduler", sets=["scheduler.name=nope"], expect="scheduler.name"),
    Case("unknown-strategy-option", sets=["strategy.options.bogus=1"], expect="strategy.options"),
    Case("unknown-estimator", sets=["trainable.estimator=sklearn.ensemble.NoSuchForest"], expect="trainable.estimator"),
    Case("not-an-estimator", sets=["trainable.estimator=os.path.join"], expect="trainable.estimator"),
    Case("unknown-module", sets=["trainable.estimator=nosuchpkg.Model"], expect="trainable.estimator"),
    Case("unknown-param", sets=["space.bogus={type: int, low: 1, high: 3}"], expect="space.bogus"),
    Case("unknown-constructor-arg", sets=["trainable.params.colour=red"], expect="trainable.params"),
    Case("unknown-trainable-type", sets=["trainable.type=keras"], expect="trainable.type"),
    Case("unknown-metric", sets=["metric.name=acc"], expect="metric.name"),
    Case("unknown-dataset", sets=["trainable.data.source=sklearn:mnist"], expect="trainable.data.source"),
    # huge or deeply nested spaces
    Case("huge-choice-one-bad", setting(space__max_depth={"type": "choice", "values": [*range(1, 20001), -1]}),
         expect="space.max_depth"),
    Case("huge-space", setting(space={f"p{i}": {"type": "int", "low": 1, "high": 2} for i in range(5000)}), expect="space.p0"),
    Case("deep-space", setting(space=nested(60)), expect="space.a"),
    Case("too-deep-space", setting(space=nested(300)), expect="nested at most"),
    Case("too-deep-yaml", raw("name: x\nspace: " + "[" * 5000 + "]" * 5000 + "\n"), expect="nested at most"),
    Case("self-alias", raw("a: &a [*a]\n"), expect="nested at most"),
    Case("alias-bomb", raw("a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdef", "bcdefg"))), expect="values"),
    # unicode and shell metacharacters in names
    Case("name-shell", sets=["name=x; rm -rf /"], expect="name"),
    Case("name-subshell", sets=["name=$(touch pwned)"], expect="name"),
    Case("name-unicode", sets=["name=实验"], expect="name"),
    Case("name-newline", setting(name="a\nb"), expect="name"),
    Case("param-unicode", sets=["space.ñame={type: int, low: 1, high: 3}"], expect="space.ñame"),
    Case("param-shell", sets=["space.$(touch pwned)={type: int, low: 1, high: 3}"], expect="space.$(touch pwned)"),
    Case("param-emoji", setting(space={"🌲": {"type": "int", "low": 1, "high": 3}}), expect="space.🌲"),
    Case("estimator-shell", sets=["trainable.estimator=os;rm -rf /"], expect="trainable.estimator"),
    Case("storage-nul", setting(storage={"path": "res\x00ults"}), expect="storage"),
    # broken YAML, files
    Case("yaml-unclosed", raw("name: [unclosed\n"), expect="<yaml>"),
    Case("yaml-tab", raw("name: x\n\tbudget: 3\n"), expect="<yaml>"),
    Case("yaml-list", raw("- a\n- b\n"), expect="<spec>"),
    Case("yaml-empty", raw(""), expect="<spec>"),
    Case("yaml-python-tag", raw("name: !!python/object/apply:os.system ['touch pwned']\n"), expect="<yaml>"),
    Case("yaml-binary", raw(b"\xff\xfe\x00\x01name"), expect="<file>"),
    Case("set-no-equals", sets=["budget.trials"], expect="--set"),
    Case("set-into-scalar", sets=["name.first=x"], expect="name"),
    # data files
    Case("csv-empty", data("empty.csv"), expect="empty.csv"),
    Case("csv-header-only", data("header.csv"), expect="header.csv"),
    Case("csv-binary", data("binary.csv"), expect="binary.csv"),
    Case("csv-missing", data("nowhere.csv"), expect="nowhere.csv"),
    Case("csv-no-target", data("good.csv", target=None), expect="trainable.data.target"),
    Case("csv-wrong-target", data("good.csv", target="price"), expect="trainable.data.target"),
    Case("data-txt", data("notes.txt"), expect="notes.txt"),
    # the mistakes of issue #12
    Case("metric-task-regressor", both(setting(trainable__estimator="sklearn.ensemble.RandomForestRegressor"),
                                       data("sklearn:diabetes", None)), expect="metric.name"),
    Case("metric-task-classifier", sets=["metric.name=r2"], expect="metric.name"),
    Case("choice-value-rejected", sets=["space.max_features={type: choice, values: [sqrt, sqroot]}"], expect="sqroot"),
    Case("float-range-int-param", sets=["space.n_estimators={type: float, low: 10, high: 50}"], expect="space.n_estimators"),
    Case("range-end-rejected", sets=["space.min_samples_leaf.low=0"], expect="space.min_samples_leaf.low"),
    Case("fixed-arg-rejected", sets=["trainable.params.criterion=gini2"], expect="trainable.params.criterion"),
    Case("metric-mode-min", sets=["metric.mode=min"], expect="metric.mode"),
    # found only by loading the data or by the sample fit
    # preprocessing (on by default) imputes inside the pipeline; without it the gaps are refused
    Case("missing-values", both(setting(**SVC, trainable__preprocess=False), data("holes.csv")), expect="SimpleImputer", phase="data"),
    Case("preprocess-unknown-column", both(setting(trainable__preprocess={"columns": {"town": "drop"}}), data("good.csv")),
         expect="trainable.preprocess.columns.town", phase="data"),
    Case("continuous-target", data("continuous.csv"), expect="trainable.data.target", phase="data"),
    Case("more-folds-than-rows", both(data("tiny.csv"), setting(trainable__cv={"folds": 5})), expect="trainable.cv.folds", phase="data"),
    Case("config-cannot-fit", setting(trainable__estimator="sklearn.linear_model.LogisticRegression", trainable__params={},
                                      space={"penalty": {"type": "choice", "values": ["l1"]},
                                             "solver": {"type": "choice", "values": ["lbfgs"]}}),
         expect="Solver lbfgs supports only", phase="sample"),
    Case("metric-cannot-score", sets=["metric.name=roc_auc"], expect="multi_class", phase="sample"),
]


@dataclass
class RayWatch:
    inits: int = 0
    starts: int = 0
    tuners: int = 0


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RayWatch]:
    """Record (never perform) every way raytuner could reach Ray."""
    import ray

    import raytuner.runner.experiment as experiment
    import raytuner.runner.session as session

    seen = RayWatch()

    def init(*args: Any, **kwargs: Any) -> None:
        seen.inits += 1
        raise AssertionError("ray.init called")

    def start_local_ray(*args: Any, **kwargs: Any) -> str:
        seen.starts += 1
        return tempfile.mkdtemp(prefix="rt-fake-")  # the process keeps it: removed below

    def build_tuner(*args: Any, **kwargs: Any) -> None:
        seen.tuners += 1
        raise AssertionError("a Tuner was built for a bad input")

    monkeypatch.setattr(ray, "init", init)
    # the suite's shared Ray (ray_local) may be up in this process already: raytuner must
    # see none (so a row reaching Ray shows as a start) and must not shut the shared one down
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "shutdown", lambda *args, **kwargs: None)
    monkeypatch.setattr(session, "start_local_ray", start_local_ray)
    monkeypatch.setattr(experiment, "build_tuner", build_tuner)
    monkeypatch.chdir(tmp_path)  # a shell metacharacter that ran would leave files here
    yield seen
    session.stop_local_ray()  # the kept (fake) Ray: its temp dir removed, the start thread ended


def write_spec(case: Case, folder: Path, storage: Path) -> Path:
    content = base_spec(storage)
    if case.mutate is not None:
        content = case.mutate(content, folder)
    path = folder / "spec.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(yaml.safe_dump(content, allow_unicode=True))
    return path


def assert_clean_refusal(rc: int, err: str, out: str) -> None:
    assert rc == 2, err
    assert err.count("error:") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_refused_cleanly_by_run(case: Case, watch: RayWatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_data(tmp_path)
    storage = tmp_path / "results"
    spec = write_spec(case, tmp_path, storage)
    before = set(os.listdir(tmp_path))
    rc = main(["run", str(spec), *sum((["--set", s] for s in case.sets), [])])
    captured = capsys.readouterr()
    assert_clean_refusal(rc, captured.err, captured.out)
    assert case.expect in captured.err, captured.err
    assert not storage.exists()  # nothing written under the storage path
    assert not (tmp_path / "pwned").exists()
    assert watch.inits == 0 and watch.tuners == 0
    assert watch.starts == (1 if case.phase == "sample" else 0)  # plan and data rows: Ray never started
    leftovers = set(os.listdir(tmp_path)) - before
    assert not leftovers, leftovers  # no file left in the working directory


@pytest.mark.parametrize("case", [c for c in CASES if c.phase != "plan"], ids=lambda c: c.id)
def test_validate_finds_the_data_mistakes_without_ray(case: Case, watch: RayWatch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_data(tmp_path)
    spec = write_spec(case, tmp_path, tmp_path / "results")
    rc = main(["validate", str(spec), *sum((["--set", s] for s in case.sets), [])])
    captured = capsys.readouterr()
    assert_clean_refusal(rc, captured.err, captured.out)
    assert case.expect in captured.err
    assert watch.starts == 0 and watch.inits == 0


def test_the_valid_base_spec_passes_validate(watch: RayWatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(Case("valid"), tmp_path, tmp_path / "results")
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: quickstart") and "sample fit:" in out
    assert watch.starts == 0 and watch.inits == 0


def test_sample_fit_failure_on_real_ray(tmp_path: Path) -> None:
    """`raytuner run` in a subprocess on a real local Ray: the sample fit's refusal arrives
    with exit 2 and one message, Ray is shut down and nothing is written."""
    write_data(tmp_path)
    storage = tmp_path / "results"
    case = next(c for c in CASES if c.id == "config-cannot-fit")
    spec = write_spec(case, tmp_path, storage)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "raytuner.cli.main", "run", str(spec)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert_clean_refusal(done.returncode, done.stderr, done.stdout)
    assert case.expect in done.stderr
    assert not storage.exists()


# -- property test: generated bad specs through `raytuner validate` ---------------------

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# fields a mutation may replace (hyperparameter values are left alone: a valid but huge
# n_estimators would make a long sample fit, not a bad input)
PATHS = [
    ("name",), ("description",), ("trainable",), ("trainable", "type"), ("trainable", "estimator"),
    ("trainable", "params"), ("trainable", "data"), ("trainable", "data", "source"), ("trainable", "data", "target"),
    ("trainable", "data", "task"), ("trainable", "data", "holdout"), ("trainable", "cv"), ("trainable", "cv", "folds"),
    ("trainable", "cv", "shuffle"), ("trainable", "fidelity"), ("trainable", "fidelity", "kind"), ("space",),
    ("space", "max_depth", "values"), ("space", "n_estimators", "type"), ("space", "max_features", "log"),
    ("metric",), ("metric", "name"), ("metric", "mode"), ("strategy",), ("strategy", "name"), ("strategy", "seed"),
    ("strategy", "options"), ("scheduler",), ("scheduler", "name"), ("budget",), ("budget", "trials"),
    ("budget", "max_concurrent"), ("budget", "time_limit_s"), ("resources",), ("resources", "cpu"), ("resources", "gpu"),
    ("stop",), ("stop", "max_steps"), ("storage",), ("failure",), ("failure", "max_retries"), ("refit",), ("ensemble",),
    ("unknown_field",), ("trainable", "unknown"),
]


def _mutated(path: tuple[str, ...], value: Any, storage: Path) -> str:
    spec = base_spec(storage)
    node = spec
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(spec, allow_unicode=True)


INPUTS = st.one_of(
    st.builds(lambda p, v: ("spec", p, v, []), st.sampled_from(PATHS), JUNK),
    st.builds(lambda text: ("yaml", None, text, []), st.text(max_size=200)),
    st.builds(lambda key, v: ("set", None, None, [f"{key}={v}"]),
              st.sampled_from([".".join(p) for p in PATHS]) | st.text(max_size=20), st.text(max_size=30)),
)


def test_property_generated_bad_inputs_exit_2_cleanly_or_are_valid(watch: RayWatch) -> None:
    tally: Counter[int] = Counter()

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(INPUTS)
    def check(generated: tuple[str, Any, Any, list[str]]) -> None:
        kind, path, value, sets = generated
        with tempfile.TemporaryDirectory() as folder:
            storage = Path(folder) / "results"
            spec = Path(folder) / "spec.yaml"
            if kind == "spec":
                spec.write_text(_mutated(path, value, storage))
            elif kind == "yaml":
                spec.write_text(value)
            else:
                spec.write_text(yaml.safe_dump(base_spec(storage)))
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(["validate", str(spec), *sum((["--set", s] for s in sets), [])])
            tally[rc] += 1
            if rc == 2:
                assert_clean_refusal(rc, err.getvalue(), out.getvalue())
            else:
                assert rc == 0 and out.getvalue().startswith("ok: "), (rc, err.getvalue())
            assert not storage.exists()

    check()
    print(f"\nproperty test: {sum(tally.values())} generated inputs, {tally[2]} refused cleanly (exit 2), {tally[0]} valid")
    assert tally[2] >= 30 and set(tally) <= {0, 2}
    assert watch.starts == 0 and watch.inits == 0
