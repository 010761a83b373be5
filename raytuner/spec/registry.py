"""A name -> lazily imported implementation registry.

Like Ray Tune's ``SEARCH_ALG_IMPORT``, entries are imported only when used, so
``import raytuner`` stays light. Unlike Ray, unknown names are errors that list
the valid ones.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Generic, Iterator, TypeVar

from raytuner.errors import SpecError
from raytuner.spec.code import is_by_value_name

T = TypeVar("T")

# packages that come with an extra of raytuner: a missing one names the pip command
EXTRAS = {"xgboost": "xgboost", "lightgbm": "lightgbm", "torch": "torch"}


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attribute"
    summary: str


class Registry(Generic[T]):
    """Maps names to objects given by import path, imported on first use."""

    def __init__(self, kind: str, field: str) -> None:
        self.kind = kind
        self.field = field
        self._entries: dict[str, Entry] = {}
        self._loaded: dict[str, T] = {}

    def add(self, name: str, target: str, summary: str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = Entry(name, target, summary)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry]:
        for name in self.names():
            yield self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str, path: str | None = None) -> T:
        if name not in self._entries:
            raise SpecError.at(
                path or self.field,
                name,
                f"one of the {self.kind} names: {', '.join(self.names())}",
            )
        if name not in self._loaded:
            module_name, _, attr = self._entries[name].target.partition(":")
            module = importlib.import_module(module_name)
            self._loaded[name] = getattr(module, attr)
        return self._loaded[name]

    def summary(self, name: str) -> str:
        return self._entries[name].summary


def import_object(path: Any, field: str) -> Any:
    """Import ``package.module.Name`` or ``package.module:Name``; SpecError if it fails.

    ``path`` may be the object itself (a spec built in Python: ``raytuner.spec.code``): returned as it is.
    """
    if not isinstance(path, str):
        return path
    if is_by_value_name(path):
        raise SpecError.at(
            field, path, "an importable 'module:name': this names a Python object given to raytuner.run "
            "(defined in __main__ or a notebook) that was not saved with the run (resume restores such objects "
            "from the run's objects.pkl; an exported model.json cannot); move it into a module (a .py file "
            "beside the spec works) and give its import path",
        )
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise SpecError.at(field, path, "an import path like 'package.module.Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = EXTRAS.get((getattr(exc, "name", None) or "").split(".")[0])
        if extra is not None:
            raise SpecError.at(field, path, f"an installed package ({exc}): pip install 'raytuner[{extra}]'") from None
        raise SpecError.at(field, path, f"an importable module ({exc})") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError.at(
                field, path, f"a name defined in module {module_name!r}"
            ) from None
    return obj
