"""What every trainable adapter is: validation up front, a Tune function trainable to run.

An adapter turns a trainable spec into a function ``f(config)`` that Ray Tune runs
in a trial, reporting the metric once per step (fold, epoch, round). Its ``check``
runs before Ray starts, so an estimator that cannot be imported or a metric that
cannot be computed is a spec error, not a failed trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable

from raytuner.spec.code import code_dirs
from raytuner.spec.params import Space
from raytuner.spec.models import MetricSpec, ResourcesSpec


@dataclass(frozen=True)
class SampleFit:
    """What a preflight sample fit did: the config, the rows it used, its score, how long."""

    config: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    score: float | None = None
    seconds: float = 0.0


class Trainable:
    kind: ClassVar[str]
    # a trial is a scikit-learn estimator scored by CV: the best config can be refit and
    # exported as a scikit-learn model, and ensembles can be built of the top configs
    sklearn_model: ClassVar[bool] = False
    # (importable module, raytuner extra) it needs: cluster images install these (#17)
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    # its trials can run many per call on a warm actor pool (execution.batch): see batch_job
    batchable: ClassVar[bool] = False
    # execution.batch auto: None probes a few evaluations in the driver and batches only cheap
    # trials; a number batches that many trials per call with no probe (a trial costly to probe,
    # e.g. a CV fit, that warm actors speed up whatever its length)
    auto_batch: ClassVar[int | None] = None
    # a trial checkpoint can be exported as the experiment's model (``export_checkpoint``: torch)
    exports_checkpoints: ClassVar[bool] = False
    # a trial steps until something ends it (a class trainable without ``steps``): the plan
    # refuses a run where nothing would (no max_steps, target or time limit)
    runs_until_stopped: ClassVar[bool] = False

    def __init__(
        self, spec: Any, *, metric: MetricSpec, seed: int | None, resources: ResourcesSpec
    ) -> None:
        self.spec = spec
        self.metric = metric
        self.seed = seed
        self.resources = resources

    def take_inputs(self, inputs: Any) -> None:
        """Use in-memory inputs (data, estimator) given from Python instead of the spec's paths.

        Trainables that cannot are a spec error; see SklearnTrainable and raytuner.sklearn.
        """
        from raytuner.errors import SpecError

        raise SpecError.at("trainable.type", self.kind, "a trainable that takes in-memory inputs (sklearn)")

    def check(self, space: Space) -> str:
        """Validate the spec against the metric and space; return the metric's mode."""
        raise NotImplementedError

    def preflight(self, space: Space) -> None:
        """Cheap checks beyond ``check`` that the plan runs before Ray starts (e.g. every value
        of the space against the model's own constraints); SpecError on a problem. Default: none."""

    def check_data(self) -> Any:
        """Load the data as the trials will and check it against the model (SpecError naming
        the file, columns and what to do). Runs before Ray starts: it must be quick. Default: none."""
        return None

    def data_report(self) -> dict[str, Any] | None:
        """What is done to the data before the model (columns, kinds, dropped rows; ``lines`` for
        people), once ``check_data`` has loaded it; kept in the summary. Default: None."""
        return None

    def sample_fit(self, config: dict[str, Any]) -> SampleFit | None:
        """Load the data and fit one fold of a small sample with ``config`` in the driver, built
        by the trial's own code (raytuner.runner.preflight runs it beside Ray's start-up);
        SpecError naming the config and the model's message when it fails. Default: nothing
        (None): the trainable cannot rehearse a trial outside Ray."""
        return None

    def max_steps(self) -> int | None:
        """How many times a trial reports, when known (schedulers' max_t)."""
        return None

    def checkpoints(self) -> bool:
        """Whether a trial saves and restores a checkpoint every step (PBT, HyperBand need it)."""
        return False

    def mutation_refusal(self, path: tuple[str, ...]) -> str | None:
        """Why a population-based scheduler (PBT, PB2) must not mutate the parameter at ``path``
        (a space path): what is expected instead. A clone restores its donor's checkpoint and goes
        on with the mutated value, so a value that changes the checkpoint's shapes, or that the
        restored state overwrites, cannot be mutated. Default: None (the trainable does not say)."""
        return None

    def trial_resources(self) -> Any:
        """What Tune reserves for one trial: a resource dict, or a placement group factory
        when the spec asks for a placement strategy or child bundles (raytuner.trainables.placement).
        A trainable that starts workers of its own may ask for less."""
        from raytuner.trainables.placement import trial_resources

        return trial_resources(self.resources)

    def build(self) -> Callable[[dict[str, Any]], None]:
        """The Tune function trainable (may close over data put in the object store)."""
        raise NotImplementedError

    def batch_refusal(self) -> str | None:
        """Why this trainable's trials cannot run batched (what ``'off'`` is expected for), or None."""
        if not self.batchable:
            return f"for trainable.type '{self.kind}' (only function and sklearn trainables run batched)"
        return None

    def batch_job(self, objectives: Iterable[tuple[str, str]], max_steps: int | None, target: float | None) -> Any:
        """What a batched run sends with every batch (a ``trainables.batch.BatchJob``); only
        where ``batchable``."""
        raise NotImplementedError(f"trainable '{self.kind}' does not run batched")

    def export_checkpoint(self, checkpoint_dir: Any, config: dict[str, Any], out: Any) -> dict[str, Any]:
        """Write a trial checkpoint as model files into ``out``; returns their part of model.json.
        Only trainables with ``exports_checkpoints`` (the finish step asks no other)."""
        raise NotImplementedError(f"the {self.kind} trainable does not export checkpoints")

    def trial_function(self, objectives: Iterable[tuple[str, str]]) -> Callable[[dict[str, Any]], Any]:
        """What the Tuner runs: ``build()``, its reports checked against the run's
        objectives ((name, mode) pairs) by the metrics rule (``trainables.reporting``)."""
        from raytuner.trainables.reporting import under_metric_rule

        return under_metric_rule(self.build(), objectives, code_dirs())
