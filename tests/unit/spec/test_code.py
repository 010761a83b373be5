"""User code in a spec: import paths or objects, their readable names, modules beside the spec."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import raytuner
from raytuner import SpecError
from raytuner.runner.plan import make_plan
from raytuner.spec.code import code_name
from raytuner.spec.loader import load_spec, spec_json_schema, validate_spec
from raytuner.spec.registry import import_object
from raytuner.testing import quadratic


def _fn_spec(function, **trainable) -> dict:
    return {"name": "t", "trainable": {"type": "function", "function": function, **trainable},
            "space": {"x": {"type": "float", "low": 0, "high": 1}}, "metric": {"name": "loss", "mode": "min"}}


def test_readable_names() -> None:
    def local(config):
        return {}

    class Est:
        pass

    main_fn = lambda config: {}  # noqa: E731
    main_fn.__module__, main_fn.__qualname__ = "__main__", "objective"
    assert code_name("pkg.mod:f") == "pkg.mod:f"
    assert code_name(quadratic) == "raytuner.testing:quadratic"  # importable by that name: a plain path
    assert code_name(main_fn) == "__main__:objective (by value)"
    assert code_name(local).endswith("test_readable_names.<locals>.local (by value)")
    assert code_name(Est()).endswith(".<locals>.Est() (by value)")  # an instance


def test_objects_in_a_spec_are_kept_and_written_as_names() -> None:
    class Net:
        pass

    spec = validate_spec(_fn_spec(quadratic, params={"cls": Net}))
    assert spec.trainable.function is quadratic  # the object itself reaches the trials
    data = spec.to_data()
    assert data["trainable"]["function"] == "raytuner.testing:quadratic"
    assert data["trainable"]["params"]["cls"].endswith("<locals>.Net (by value)")
    assert yaml.safe_load(yaml.safe_dump(data))["trainable"]["function"] == "raytuner.testing:quadratic"
    assert validate_spec(data).trainable.function == "raytuner.testing:quadratic"  # loads back
    schema = spec_json_schema()["$defs"]["FunctionTrainableSpec"]["properties"]["function"]
    assert schema["type"] == "string"


def test_a_value_that_is_no_code_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as err:
        validate_spec(_fn_spec(3))
    assert err.value.problems[0].path == "trainable.function"
    assert "function or class" in err.value.problems[0].expected


def test_a_by_value_name_says_it_cannot_be_restored() -> None:
    assert import_object(quadratic, "trainable.function") is quadratic
    with pytest.raises(SpecError) as err:
        import_object("__main__:objective (by value)", "trainable.function")
    problem = err.value.problems[0]
    assert problem.path == "trainable.function" and "importable" in problem.expected
    assert "resume" in problem.expected and "beside the spec" in problem.expected


def test_a_load_function_without_a_task_names_the_field() -> None:
    pytest.importorskip("torch")
    spec = {"name": "t", "trainable": {"type": "torch", "data": {"load": "raytuner.testing:quadratic"}},
            "metric": {"name": "val_loss", "mode": "min"}}
    with pytest.raises(SpecError) as err:
        make_plan(validate_spec(spec))
    problem = err.value.problems[0]
    assert problem.path == "trainable.data.task"
    assert "task: classification" in problem.expected and "load function" in problem.expected


def test_a_module_beside_the_spec_file_is_importable(tmp_path: Path) -> None:
    name = f"beside_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("def objective(config):\n    return {'loss': config['x']}\n")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(_fn_spec(f"{name}:objective")))
    try:
        plan = make_plan(load_spec(tmp_path / "spec.yaml"))  # as `raytuner validate` does
        assert plan.spec.trainable.function == f"{name}:objective"
        assert str(tmp_path) in raytuner.spec.code.code_dirs()  # the trials put it on their path too
    finally:
        sys.modules.pop(name, None)


def test_objects_only_named_in_spec_yaml_come_back_on_resume(tmp_path: Path) -> None:
    """objects.pkl beside spec.yaml (written with it at the start of a run) gives a resume the objects back."""
    from raytuner.results import storage
    from raytuner.runner.partial import write_spec
    from raytuner.runner.resume import find_resume_point

    def objective(config):
        return {"loss": config["x"] + 1.0}

    spec = validate_spec(_fn_spec(objective, params={"kind": quadratic}))
    write_spec(spec, str(tmp_path))
    saved = yaml.safe_load((tmp_path / "spec.yaml").read_text())
    assert saved["trainable"]["function"].endswith("<locals>.objective (by value)")
    assert saved["trainable"]["params"]["kind"] == "raytuner.testing:quadratic"  # importable: a name is enough
    (tmp_path / "tuner.pkl").write_bytes(b"")  # Ray Tune's state (not read here)
    point = find_resume_point(str(tmp_path))
    restored = point.spec.trainable.function
    assert callable(restored) and restored({"x": 1.0}) == {"loss": 2.0}
    # without objects.pkl the name stays a name, and the plan says what to do
    (tmp_path / "objects.pkl").unlink()
    point = find_resume_point(str(tmp_path))
    with pytest.raises(SpecError, match="objects.pkl"):
        make_plan(point.spec)
    assert storage.is_file(storage.resolve(str(tmp_path)).child("spec.yaml"))
