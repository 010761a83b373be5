"""User code in a spec: an import path ('module:name') or, from Python, the object itself.

Wherever a spec takes user code (``trainable.function``, ``trainable.model.path``,
``trainable.data.load``, ``trainable.loss``, ``trainable.estimator``, pipeline step
estimators), Python callers may give the function or class itself, also one defined in
``__main__`` or a notebook: the spec keeps the object, and Ray carries it to the trials
by value (cloudpickle). What is written down (spec.yaml, summary, history) is its
readable name (:func:`code_name`): ``module:Name`` when that name imports the same
object, else ``module:Name (by value)``, which names the object but cannot be imported.

User modules beside the spec file (or in the current directory) are importable without
PYTHONPATH: :func:`add_code_dirs` puts those folders on ``sys.path`` of the driver, and
the trial functions put the same folders on the workers' before they import anything.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

BY_VALUE = " (by value)"  # suffix of the name of an object that no import path reaches

_CODE_DIRS: list[str] = []  # folders this process put on sys.path for user code, in order


def _target(obj: Any) -> tuple[Any, bool]:
    """(what names ``obj``, whether ``obj`` is an instance of it rather than the thing itself)."""
    if isinstance(obj, type) or hasattr(obj, "__qualname__"):
        return obj, False
    return type(obj), True


def _lookup(module: str, qualname: str) -> Any:
    """The object ``module:qualname`` names among the modules already imported (None if none)."""
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def code_name(obj: Any) -> str:
    """A readable name for a code reference: an import path as given; for an object,
    ``module:qualname`` when that path imports this very object, else with " (by value)"
    (defined in ``__main__``, a notebook or a function, or an instance)."""
    if isinstance(obj, str):
        return obj
    target, instance = _target(obj)
    module = str(getattr(target, "__module__", None) or "?")
    qualname = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or type(obj).__name__)
    name = f"{module}:{qualname}" + ("()" if instance else "")
    if not instance and module != "__main__" and "<locals>" not in qualname and _lookup(module, qualname) is obj:
        return name
    return name + BY_VALUE


def is_by_value_name(path: str) -> bool:
    return path.endswith(BY_VALUE)


def _check_code(value: Any) -> Any:
    if isinstance(value, str) or callable(value):
        return value
    raise ValueError("an import path like 'package.module:name', or (from Python) a function or class "
                     "(for an estimator instance: its class, with its arguments in trainable.params)")


CodeRef = Annotated[
    Any,
    BeforeValidator(_check_code),
    PlainSerializer(code_name, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": "an import path 'package.module:name' (from Python: "
                                                     "the function or class itself)"}),
]
"""The type of a spec field that names user code: a string, or the object itself."""


def json_fallback(value: Any) -> Any:
    """For ``model_dump(mode="json", fallback=...)``: other Python objects in a spec (a class in
    ``params`` or a fixed space value) are written as their readable name, never a crash."""
    return code_name(value)


# -- folders of user code -----------------------------------------------------------


def add_code_dirs(*dirs: str | os.PathLike[str]) -> None:
    """Make modules in ``dirs`` importable here (appended to ``sys.path``, so they never shadow an
    installed package) and on the workers of the trials built from now on (:func:`code_dirs`)."""
    for d in dirs:
        path = os.path.abspath(os.fspath(d))
        if path not in _CODE_DIRS:
            _CODE_DIRS.append(path)
        if path not in sys.path:
            sys.path.append(path)


def code_dirs() -> tuple[str, ...]:
    """The folders a trial puts on its ``sys.path``: those added here, and the current directory."""
    here = os.path.abspath(os.getcwd())
    return tuple(_CODE_DIRS) + (() if here in _CODE_DIRS else (here,))


def use_code_dirs(dirs: tuple[str, ...]) -> None:
    """In a worker: append the driver's code folders that are not on ``sys.path`` yet (and keep
    them in :func:`code_dirs`, for the processes this worker starts: DDP workers)."""
    for path in dirs:
        if path not in _CODE_DIRS:
            _CODE_DIRS.append(path)
        if path not in sys.path:
            sys.path.append(path)

