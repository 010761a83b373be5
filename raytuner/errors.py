"""The exception hierarchy of raytuner.

Every error a user can cause derives from :class:`RaytunerError`. The CLI prints
its message (no traceback) and exits with status 2. Errors of optional
dependencies and of Ray itself are mapped onto this hierarchy in one place each
(:func:`missing_extra` for extras, :func:`raytuner.runner.session.connect_error` for Ray's
connection errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """Unpickle a raytuner error without calling its ``__init__`` (whose arguments differ)."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class RaytunerError(Exception):
    """Base class of every error raytuner raises on purpose.

    Errors cross process boundaries intact (Ray pickles an exception raised in a
    trial and rebuilds it in the driver): ``__reduce__`` restores the message and
    every attribute (a SpecError's ``problems`` and ``source``) without calling
    ``__init__`` again. ``retryable``: whether retrying a trial that raised it can
    help (see :func:`retryable`); a user's mistake cannot.
    """

    exit_code = 2
    retryable: ClassVar[bool] = False
    prefix = "error: "  # what the CLI prints before the message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


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

    retryable = True  # inside a trial: a cluster that was unreachable may answer on the next try


class ResultsError(RaytunerError):
    """An experiment directory cannot be read back."""


class ExperimentFailed(RaytunerError):
    """Every trial of an experiment failed. ``summary``: the run's Summary (written to
    disk before this is raised), for callers that read its trials (TuneSearchCV)."""

    exit_code = 1

    def __init__(self, message: str, summary: Any = None):
        super().__init__(message)
        self.summary = summary


# Errors that a retry of the same trial (same config, same code, same data) raises again:
# a user's mistake, a missing import, a wrong type or value. Everything else is retried
# up to failure.max_retries times: a lost worker or node (Ray's actor errors), OSError
# (connections, files on a shared disk), RuntimeError (CUDA, NCCL, a flaky library).
# A class's own ``retryable`` attribute (RaytunerError and subclasses) wins over this list.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ImportError,  # ModuleNotFoundError too
    TypeError,
    ValueError,  # bad values, data that does not parse (UnicodeDecodeError, JSONDecodeError...)
    LookupError,  # KeyError, IndexError: a missing column or key
    AttributeError,
    NameError,
    SyntaxError,
    NotImplementedError,
    AssertionError,
    ArithmeticError,  # ZeroDivisionError, OverflowError
)


def causes(exc: BaseException | None) -> list[BaseException]:
    """The errors behind ``exc``: Ray's wrappers unwrapped (a RayTaskError's ``cause``,
    the per-worker errors of a Ray Train ``WorkerGroupError``); ``exc`` itself otherwise."""
    if exc is None:
        return []
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and cause is not exc:
        return causes(cause)
    workers = getattr(exc, "worker_failures", None)
    if isinstance(workers, dict) and workers:
        return [c for w in workers.values() if isinstance(w, BaseException) for c in causes(w)]
    return [exc]


def retryable(exc: BaseException | None) -> bool:
    """Whether retrying the trial that raised ``exc`` can help (False: fail it at once)."""
    found = causes(exc)
    if not found:
        return True
    return any(_retryable_one(c) for c in found)


def _retryable_one(exc: BaseException) -> bool:
    marked = getattr(type(exc), "retryable", None)
    if isinstance(marked, bool):
        return marked
    return not isinstance(exc, PERMANENT_ERRORS)


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


class StorageAccessError(RaytunerError):
    """Cloud storage refused us: missing or invalid credentials, or no permission."""
