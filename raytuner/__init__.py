"""raytuner: declarative, distributed hyperparameter tuning on Ray."""

from __future__ import annotations

from raytuner.results.versions import __version__

from raytuner.errors import (  # noqa: E402
    ClusterError,
    DependencyError,
    ExperimentFailed,
    RaytunerError,
    ResultsError,
    SpecError,
)
from raytuner.spec.loader import load_spec, validate_spec  # noqa: E402
from raytuner.results.summary import Summary, read_summary  # noqa: E402
from raytuner.spec.models import ExperimentSpec  # noqa: E402


def run(spec: ExperimentSpec | dict | str, **kwargs):  # type: ignore[no-untyped-def]
    """Run a spec (object, dict, or YAML path) and return its Summary."""
    from raytuner.runner.experiment import run_experiment

    if isinstance(spec, str):
        spec = load_spec(spec)
    return run_experiment(validate_spec(spec), **kwargs)


__all__ = [
    "ClusterError",
    "DependencyError",
    "ExperimentFailed",
    "ExperimentSpec",
    "RaytunerError",
    "ResultsError",
    "SpecError",
    "Summary",
    "__version__",
    "load_spec",
    "read_summary",
    "run",
    "validate_spec",
]
