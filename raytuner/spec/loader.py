"""Read a spec from YAML (plus ``--set`` overrides) into a validated ExperimentSpec."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, get_args

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from raytuner.errors import MISSING, Problem, SpecError
from raytuner.spec.code import add_code_dirs
from raytuner.spec.params import Param
from raytuner.spec.models import ExperimentSpec


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentSpec:
    """Load, override and validate a spec file. Raises SpecError on any problem.

    Modules beside the spec file and in the current directory become importable (here and in the
    trials: ``raytuner.spec.code.add_code_dirs``), so ``function: mymod:objective`` needs no PYTHONPATH.
    """
    overrides = list(overrides)
    raw = read_yaml(path)
    add_code_dirs(Path(path).resolve().parent, Path.cwd())
    raw = apply_overrides(raw, overrides)
    try:
        return validate_spec(raw, source=str(path))
    except SpecError as exc:
        raise SpecError(blame_overrides(exc.problems, overrides), str(path)) from None


def blame_overrides(problems: list[Problem], overrides: Iterable[str]) -> list[Problem]:
    """Point problems caused by a ``--set`` at that override."""
    out = []
    for problem in problems:
        for text in overrides:
            key = text.partition("=")[0].strip()
            parent = key.rpartition(".")[0]
            if (
                problem.path == key
                or problem.path.startswith(key + ".")
                or key.startswith(problem.path + ".")
                or (parent.count(".") >= 1 and problem.path.startswith(parent + "."))
            ):
                problem = Problem(problem.path, problem.value, f"{problem.expected} (from --set {text})")
                break
        out.append(problem)
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise SpecError.at("<file>", str(path), "an existing spec file")
    if not p.is_file():
        raise SpecError.at("<file>", str(path), "a file, not a directory")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError.at("<yaml>", f"{p.name} at {where}", f"valid YAML ({problem})") from None
    except UnicodeDecodeError:
        raise SpecError.at("<file>", str(path), "a UTF-8 text file") from None
    except RecursionError:  # the YAML parser recurses once per level of nesting
        raise SpecError.at("<yaml>", p.name, f"YAML nested at most {MAX_DEPTH} levels deep") from None
    check_size(data, "<yaml>", p.name)
    if not isinstance(data, Mapping):
        raise SpecError.at("<spec>", data, "a YAML mapping at the top level")
    return dict(data)


MAX_DEPTH = 100  # levels of nesting a spec may have (a search space's nesting included)
MAX_VALUES = 1_000_000  # values (mappings, lists and scalars) a spec may hold, aliases expanded


def check_size(data: Any, path: str, value: Any, source: str | None = None) -> None:
    """SpecError when ``data`` nests deeper than MAX_DEPTH or holds more than MAX_VALUES
    values (a YAML alias bomb, a self-referencing alias); walked without recursion."""
    todo, seen = [(data, 0)], 0
    while todo:
        node, depth = todo.pop()
        seen += 1
        if depth > MAX_DEPTH or seen > MAX_VALUES:
            what = f"nested at most {MAX_DEPTH} levels deep" if depth > MAX_DEPTH else f"of at most {MAX_VALUES} values"
            raise SpecError(Problem(path, value, f"a spec {what}"), source)
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
        todo.extend((child, depth + 1) for child in children)


def parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise SpecError.at("--set", text, "KEY.PATH=VALUE, e.g. budget.trials=20")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return keys, parsed


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Set dotted keys in a copy of ``raw``; values are parsed as YAML scalars/lists."""
    data = copy.deepcopy(dict(raw))
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = data
        for i, key in enumerate(keys[:-1]):
            child = node.get(key) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[key] = child
            if not isinstance(child, dict):
                raise SpecError.at(
                    ".".join(keys[: i + 1]), child, f"a mapping to set {'.'.join(keys)} in"
                )
            node = child
        node[keys[-1]] = value
    return data


def validate_spec(raw: Mapping[str, Any] | ExperimentSpec, source: str | None = None) -> ExperimentSpec:
    if isinstance(raw, ExperimentSpec):
        return raw
    check_size(raw, "<spec>", "(whole spec)", source)
    try:
        return ExperimentSpec.model_validate(dict(raw))
    except SpecError as exc:
        raise SpecError(exc.problems, source) from None
    except ValidationError as exc:
        raise SpecError(problems_from(exc), source) from None


_TAGS = {"sklearn", "function", "torch", "class"}


def problems_from(exc: ValidationError, model: Any = None) -> list[Problem]:
    """Our Problems from a pydantic error (``model``: the model validated, for field lists)."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # drop discriminator tags pydantic puts in the location of union members
        if len(loc) >= 2 and loc[0] == "trainable" and loc[1] in _TAGS:
            loc = [loc[0]] + loc[2:]
        path = ".".join(loc)
        kind = err["type"]
        if kind == "missing":
            problems.append(Problem(path, MISSING, "this field to be set"))
            continue
        value = err.get("input", MISSING)
        if kind == "extra_forbidden":
            expected = "no such field (a typo?); valid fields: " + _valid_fields(loc, model or ExperimentSpec)
            problems.append(Problem(path, value, expected))
            continue
        if kind == "union_tag_invalid":
            tags = err.get("ctx", {}).get("expected_tags", "")
            problems.append(Problem(f"{path}.type", err.get("ctx", {}).get("tag", value), f"one of {tags}"))
            continue
        if kind == "union_tag_not_found":
            problems.append(Problem(f"{path}.type", MISSING, "a trainable type (sklearn, function, ...)"))
            continue
        msg = str(err["msg"])
        for prefix in ("Value error, ", "Input should be "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        if not loc:
            problems.append(Problem("<spec>", "(whole spec)", msg))
            continue
        problems.append(Problem(path, value, msg))
    return problems


def _valid_fields(loc: list[str], model: Any) -> str:
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return "see `raytuner schema`"
        ann = field.annotation
        models = [a for a in get_args(ann) if hasattr(a, "model_fields")]  # an optional section
        if hasattr(ann, "model_fields") or len(models) == 1:
            model = ann if hasattr(ann, "model_fields") else models[0]
        else:
            return "see `raytuner schema`"
    return ", ".join(getattr(model, "model_fields", {})) or "(none: this takes no options)"


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of the spec, with the search-space DSL spelled out for editors."""
    schema = ExperimentSpec.model_json_schema()
    param_schema = TypeAdapter(Param).json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(param_schema.pop("$defs", {}))
    defs["SpaceNode"] = {
        "anyOf": [
            param_schema,
            {"type": "object", "additionalProperties": {"$ref": "#/$defs/SpaceNode"}},
            {"description": "a fixed value"},
        ]
    }
    schema["properties"]["space"] = {
        "type": "object",
        "description": "the search space: name -> parameter, nested space or fixed value",
        "additionalProperties": {"$ref": "#/$defs/SpaceNode"},
    }
    return schema


def dump_schema() -> str:
    return json.dumps(spec_json_schema(), indent=2)


def validate_options(model: type[BaseModel], raw: Mapping[str, Any], path: str) -> BaseModel:
    """Validate a registry entry's options, reporting problems under ``path``."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [
            Problem(f"{path}.{p.path}" if p.path and p.path != "<spec>" else path, p.value, p.expected)
            for p in problems_from(exc, model)
        ]
        raise SpecError(problems) from None
