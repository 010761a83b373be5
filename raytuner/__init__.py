"""raytuner: declarative, distributed hyperparameter tuning on Ray."""

from __future__ import annotations

from raytuner.results.versions import __version__

from raytuner.errors import (  # noqa: E402
    ClusterError,
    DependencyError,
    ExperimentFailed,
    Interrupted,
    RaytunerError,
    ResultsError,
    SpecError,
)
from raytuner.spec.loader import load_spec, validate_spec  # noqa: E402
from raytuner.results.summary import Summary, read_summary  # noqa: E402
from raytuner.spec.models import ExperimentSpec  # noqa: E402


def run(spec: ExperimentSpec | dict | str, **kwargs):  # type: ignore[no-untyped-def]
    """Run a spec (object, dict, or YAML path) and return its Summary. In a dict or ExperimentSpec,
    user code (``trainable.function``, ``model.path``, ``data.load``, ``loss``, ``estimator``) may be
    the function or class itself, also one defined in ``__main__`` (``raytuner.spec.code``)."""
    from raytuner.runner.experiment import run_experiment

    if isinstance(spec, str):
        spec = load_spec(spec)
    return run_experiment(validate_spec(spec), **kwargs)


def resume(directory: str, *, retry_failed: bool = False, **kwargs):  # type: ignore[no-untyped-def]
    """Finish an interrupted experiment (local or s3://) and return its Summary; ``retry_failed``
    also reruns failed trials. Other options as for ``run`` (address, show_progress, endpoint, ...)."""
    from raytuner.runner.experiment import resume_experiment

    return resume_experiment(str(directory), retry_failed=retry_failed, **kwargs)


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """``read_experiment`` and ``Experiment`` import pandas: loaded on first use, not by ``import raytuner``."""
    if name == "session":  # raytuner.session.start() / stop() / status(): the warm local session
        from raytuner.cluster import session

        return session
    if name in ("read_experiment", "Experiment"):
        from raytuner.results import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'raytuner' has no attribute {name!r}")


def load_model(path: str, fmt: str | None = None, *, ensemble: bool = False, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    """A saved model (``SavedModel``: model, meta, path) from an experiment, model directory or
    model file, local or ``s3://...`` (``endpoint`` for S3-compatible stores). ``.model`` has
    ``predict`` (and ``predict_proba`` for classifiers): the refit scikit-learn model, or a torch
    run's exported best checkpoint (``TorchModel``; its ``module`` is the plain ``nn.Module``)."""
    from raytuner.runner.predict import load_model as _load

    return _load(path, fmt, ensemble=ensemble, endpoint=endpoint)


def report(directory: str, out: str | None = None, *, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    """Write the experiment's offline HTML report (default ``<directory>/report.html``); returns its Path."""
    from raytuner.console.report import write_report

    return write_report(directory, out, endpoint=endpoint)


def compare(directories: list[str], out: str | None = None, *, force: bool = False,
            endpoint: str | None = None):  # type: ignore[no-untyped-def]
    """Write the comparison page of several experiments (default ``./compare.html``); returns its Path.
    Experiments with different metrics or modes are refused unless ``force=True``."""
    from raytuner.console.report.compare import write_compare

    return write_compare(directories, out, force=force, endpoint=endpoint)


def experiments(storage: str | None = None, *, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    """Every experiment under a storage path (default: the spec's default), newest first:
    a list of ``ExperimentEntry`` (name, state, started, strategy, scheduler, trials, best_score, path)."""
    from raytuner.results.catalog import list_experiments

    return list_experiments(storage, endpoint=endpoint)


def history(url: str | None = None):  # type: ignore[no-untyped-def]
    """The experiment history store (``HistoryStore``: ``experiments()``, ``get(id)``, ``similar(fp)``,
    ``forget(id)``); default: $RAYTUNER_HISTORY_URL, else SQLite in $RAYTUNER_HOME/history.db."""
    from raytuner.results.history.store import HistoryStore

    return HistoryStore(url)


__all__ = [
    "ClusterError",
    "DependencyError",
    "Experiment",
    "ExperimentFailed",
    "ExperimentSpec",
    "Interrupted",
    "RaytunerError",
    "ResultsError",
    "SpecError",
    "Summary",
    "__version__",
    "compare",
    "experiments",
    "history",
    "load_model",
    "load_spec",
    "read_experiment",
    "read_summary",
    "report",
    "resume",
    "run",
    "validate_spec",
]
