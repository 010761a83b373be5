"""The exception hierarchy of raytuner.

Every error a user can cause derives from :class:`RaytunerError`. The CLI prints
its message (no traceback) and exits with status 2. Errors of optional
dependencies and of Ray itself are mapped onto this hierarchy in one place each
(:func:`missing_extra` for extras, :func:`raytuner.runner.session.connect_error` for Ray's
connection errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RaytunerError(Exception):
    """Base class of every error raytuner raises on purpose."""

    exit_code = 2
    prefix = "error: "  # what the CLI prints before the message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where, what was given, what was expected."""

    path: str
    value: Any
    expected: str

    def render(self) -> str:
        where = self.path or "<spec>"
        if self.value is _MISSING:
            return f"{where}: missing; expected {self.expected}"
        return f"{where}: got {_short(self.value)}; expected {self.expected}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
MISSING = _MISSING


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SpecError(RaytunerError):
    """A spec (file, overrides or Python object) is invalid."""

    def __init__(self, problems: list[Problem] | Problem, source: str | None = None):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.source = source
        head = f"invalid spec {source}" if source else "invalid spec"
        lines = [p.render() for p in self.problems]
        if len(lines) == 1:
            message = f"{head}: {lines[0]}"
        else:
            message = head + ":\n" + "\n".join(f"  - {line}" for line in lines)
        super().__init__(message)

    @classmethod
    def at(cls, path: str, value: Any, expected: str) -> "SpecError":
        return cls(Problem(path, value, expected))


class DependencyError(RaytunerError):
    """An optional dependency is missing."""


class ClusterError(RaytunerError):
    """Ray could not be reached or refused us."""


class ResultsError(RaytunerError):
    """An experiment directory cannot be read back."""


class ExperimentFailed(RaytunerError):
    """Every trial of an experiment failed."""

    exit_code = 1


class Interrupted(RaytunerError):
    """The run was stopped (Ctrl+C) with its state saved: ``raytuner resume`` finishes it."""

    exit_code = 130
    prefix = ""

    def __init__(self, experiment_path: str):
        self.experiment_path = experiment_path
        super().__init__(f"interrupted; resume with: raytuner resume {experiment_path}")


def missing_extra(package: str, extra: str, feature: str) -> DependencyError:
    return DependencyError(
        f"{feature} needs the '{package}' package: install it with "
        f"pip install 'raytuner[{extra}]'"
    )
