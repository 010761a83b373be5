"""Python objects given for user code, kept beside spec.yaml so that a resume can restore them.

spec.yaml records an object that no import path reaches (a function or class defined in
``__main__`` or a notebook) by its readable name, ``__main__:objective (by value)``
(:mod:`raytuner.spec.code`). At the start of a run those objects are pickled by value
(Ray's cloudpickle, as Ray ships them to the trials) into ``objects.pkl`` in the experiment
directory, keyed by their place in the spec; ``raytuner resume`` puts them back. It is a
pickle: resume only directories you trust, as for Ray Tune's own ``tuner.pkl`` there.
An object that cannot be pickled is left out (with a log line): its resume then stops with
the SpecError of :func:`raytuner.spec.registry.import_object`.
"""

from __future__ import annotations

import logging
from typing import Any

from raytuner.results import storage
from raytuner.spec.code import is_by_value_name

log = logging.getLogger(__name__)

OBJECTS_FILE = "objects.pkl"

Path_ = tuple[Any, ...]  # keys (str) and list indexes (int) from the spec's root


def by_value_objects(spec: Any) -> dict[Path_, Any]:
    """Every object of ``spec`` that spec.yaml can only name, by its place in the spec."""
    found: dict[Path_, Any] = {}

    def walk(py: Any, js: Any, path: Path_) -> None:
        if isinstance(js, dict) and isinstance(py, dict):
            for key, value in js.items():
                walk(py.get(key), value, (*path, key))
        elif isinstance(js, list) and isinstance(py, (list, tuple)):
            for i, (a, b) in enumerate(zip(py, js)):
                walk(a, b, (*path, i))
        elif isinstance(js, str) and is_by_value_name(js) and not isinstance(py, str):
            found[path] = py

    walk(spec.model_dump(), spec.to_data(), ())
    return found


def save_objects(spec: Any, location: storage.Location) -> None:
    """``objects.pkl`` in the experiment directory when ``spec`` holds objects spec.yaml only names."""
    objects = by_value_objects(spec)
    if not objects:
        return
    from ray import cloudpickle

    try:
        data = cloudpickle.dumps(objects)
    except Exception as exc:  # noqa: BLE001 - an unpicklable object: the run goes on, resume will say why
        log.warning("raytuner: the Python objects of this spec cannot be pickled (%s); a resume of this run "
                    "will ask for import paths instead", exc)
        return
    storage.write_bytes(location, OBJECTS_FILE, data)


def restore_objects(data: dict[str, Any], location: storage.Location) -> dict[str, Any]:
    """spec.yaml's ``data`` with the objects of ``objects.pkl`` (if there is one) back in their places."""
    target = location.child(OBJECTS_FILE)
    if not storage.is_file(target):
        return data
    from ray import cloudpickle

    objects: dict[Path_, Any] = cloudpickle.loads(storage.read_bytes(target))
    for path, obj in objects.items():
        node: Any = data
        for key in path[:-1]:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if isinstance(node, (dict, list)) and path and _holds_name(node, path[-1]):
            node[path[-1]] = obj
    return data


def _holds_name(node: Any, key: Any) -> bool:
    try:
        value = node[key]
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(value, str) and is_by_value_name(value)
