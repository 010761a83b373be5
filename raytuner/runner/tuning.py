"""What the Tuner is given, decided once from a Plan: ``tuner_plan(plan) -> TunerPlan``.

The plan side decides where trials come from (a strategy's searcher or Ray's own
generator), how many run and wait at once, where they are stored, how many
checkpoints and retries they get, which per-trial files are written and what the
progress view counts to. ``runner.experiment`` only assembles ``tune.Tuner`` from
these values; the Ray objects are built there from them (lazily, with Ray up).
No Ray import at module level.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raytuner.runner.plan import Plan
from raytuner.runner.tracking import Tracking, tracking_callbacks
from raytuner.spec.models import StopSpec
from raytuner.spec.objectives import Objective

if TYPE_CHECKING:
    from raytuner.results.summary import TrialRecord


EXPERIMENT_STATE_PERIOD_S = "1"  # TUNE_GLOBAL_CHECKPOINT_S, unless the user set it (up to 200 trials)
TRIALS_PER_STATE_SECOND = 200  # beyond that, one more second between saves per 200 trials


def experiment_state_period(num_samples: int) -> str:
    """Seconds between Tune's experiment-state saves: 1, and 1 more per 200 trials beyond.

    Each save serialises every trial (O(trials) time and transient strings of about 8 KB
    per trial): saved every second, 1,000 trivial trials raised the driver's RSS growth
    from ~35 MB to ~75 MB (scripts/bench_scale.py), and at 10,000 a save costs more than
    a second. Growing the period with the trial count keeps the share of time constant.
    """
    return str(max(float(EXPERIMENT_STATE_PERIOD_S), num_samples / TRIALS_PER_STATE_SECOND)).removesuffix(".0")


class PendingTrials(enum.Enum):
    """How many trials Ray may keep pending (TUNE_MAX_PENDING_TRIALS_PG), when not a number."""

    RAY_DEFAULT = "Ray's default"  # leave the variable as it is (at least 200 unless the user set it)
    PER_CPU = "max(16, 2 x the cluster's CPUs)"  # read from the running cluster


@dataclass(frozen=True)
class TrialSource:
    """Where trials come from: the strategy's searcher, or Ray's own BasicVariantGenerator.

    PBT/PB2 refuse any search algorithm (they explore by cloning trials): their first
    population comes from Ray's generator, seeded: sampled from the space (random) or
    the strategy's list of configs (grid, manual). Synchronous HyperBand gets the same
    for those strategies (see Scheduler.synchronous), and so does random search that Ray
    samples exactly (see Strategy.ray_samples_exactly).
    """

    ray_generator: bool
    seed: int | None = None
    limit: int = 0  # the generator's own concurrency limit (0: none)
    configs: tuple[dict[str, Any], ...] | None = None  # complete configs (grid, manual); None: sample the space
    points: tuple[dict[str, Any], ...] = ()  # points to evaluate first (sampled space only)


@dataclass(frozen=True)
class TunerPlan:
    """Every decision the Tuner needs, as plain values."""

    objective: Objective  # the metric progress, stoppers and the best trial use
    tune_metric: str | None  # TuneConfig's (None for several objectives: searcher and scheduler carry theirs)
    tune_mode: str | None
    source: TrialSource
    num_samples: int
    max_concurrent_trials: int | None  # TuneConfig's (None with Ray's generator: it limits itself)
    pending_trials: int | PendingTrials  # TUNE_MAX_PENDING_TRIALS_PG, unless the user set it
    time_budget_s: float | None
    storage_path: str
    storage_filesystem: Any  # a pyarrow filesystem, or None for local storage
    max_failures: int
    checkpoints_to_keep: int | None  # per trial on storage (None: all)
    tracking: Tracking  # TensorBoard, MLflow, W&B
    stop: StopSpec
    progress_total: int | None  # None: unknown up front (a grid's trials)

    @property
    def ray_generator(self) -> bool:
        return self.source.ray_generator

    def environ(self) -> dict[str, str | None]:
        """What Ray reads only from the environment while it builds and runs the Tuner
        (``session.scoped_environ`` sets it for the block; a user's own value wins)."""
        env: dict[str, str | None] = {
            # raytuner names the per-trial loggers itself (see trial_loggers)
            "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
            # the experiment state `raytuner resume` restores from, saved every second
            # (Ray's "auto" waits 10 s or more): a killed driver loses at most that much
            # (longer for very many trials: experiment_state_period)
            "TUNE_GLOBAL_CHECKPOINT_S": experiment_state_period(self.num_samples),
        }
        pending = self.pending_trials
        if pending is PendingTrials.PER_CPU:
            import ray

            pending = max(16, 2 * int(ray.cluster_resources().get("CPU", 1)))
        env["TUNE_MAX_PENDING_TRIALS_PG"] = None if pending is PendingTrials.RAY_DEFAULT else str(pending)
        return env


def tuner_plan(plan: Plan) -> TunerPlan:
    """The Tuner's decisions for a plan (no Ray needed)."""
    from raytuner.results.storage import tune_storage

    spec = plan.spec
    source = trial_source(plan)
    storage_path, storage_filesystem = tune_storage(spec.storage)
    several = plan.multi_objective
    return TunerPlan(
        objective=Objective(plan.metric, plan.mode),
        tune_metric=None if several else plan.metric,
        tune_mode=None if several else plan.mode,
        source=source,
        # Ray's generator crosses grid axes with num_samples itself (a strategy may count both)
        num_samples=plan.strategy.ray_num_samples(plan.search) if source.ray_generator and source.configs is None
        else plan.num_samples,
        max_concurrent_trials=None if source.ray_generator else spec.budget.max_concurrent,
        pending_trials=pending_trials(spec.budget.max_concurrent, source.ray_generator),
        time_budget_s=spec.budget.time_limit_s,
        storage_path=storage_path,
        storage_filesystem=storage_filesystem,
        max_failures=spec.failure.max_retries,
        # two suffice for retries, HyperBand pauses and fold/epoch resumption; PBT and PB2
        # keep enough that a donor's checkpoint still exists when a trial clones it
        checkpoints_to_keep=plan.scheduler.checkpoints_to_keep(plan.schedule),
        tracking=plan.tracking,
        stop=spec.stop,
        progress_total=None if plan.strategy.grid_sized else plan.num_samples,
    )


def trial_source(plan: Plan) -> TrialSource:
    """Ray's generator where the scheduler needs it or Ray samples the space exactly; else the searcher."""
    strategy, scheduler = plan.strategy, plan.scheduler
    generator = strategy.ray_generator and (
        scheduler.explores_itself or scheduler.synchronous or strategy.ray_samples_exactly(plan.search)
    )
    if not generator:
        return TrialSource(ray_generator=False)
    configs = None
    if strategy.lists_configs:
        configs = tuple(dict(c) for c in strategy.configs(plan.search))
    return TrialSource(
        ray_generator=True,
        seed=plan.search.seed,
        # Ray ignores TuneConfig.max_concurrent_trials for a generator passed in: it limits itself.
        limit=plan.spec.budget.max_concurrent or 0,
        configs=configs,
        points=tuple(dict(p) for p in plan.search.points_to_evaluate),
    )


def pending_trials(max_concurrent: int | None, ray_generator: bool) -> int | PendingTrials:
    """Let trials start side by side with every searcher.

    Ray keeps at most one trial pending when a search algorithm other than its own
    generator is used, so fast trials on reused actors end up running one after the
    other (and on one node). Allow as many pending trials as may run at once (without
    a limit: 16, or twice the CPUs). With Ray's own generator, Ray's default (at least
    200) stays: synchronous HyperBand needs a bracket's trials to exist before the
    first of them is halved. A TUNE_MAX_PENDING_TRIALS_PG the user set is kept.
    """
    if ray_generator:
        return PendingTrials.RAY_DEFAULT
    return max_concurrent if max_concurrent is not None else PendingTrials.PER_CPU


def search_setup(plan: Plan, source: TrialSource) -> tuple[Any, dict[str, Any]]:
    """The searcher and param_space for the Tuner (imports Ray)."""
    if not source.ray_generator:
        return plan.strategy.searcher(plan.search), plan.strategy.param_space(plan.search)
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from raytuner.spec.space import to_ray, values_space

    if source.configs is not None:
        points: list[dict[str, Any]] | None = [dict(c) for c in source.configs]
        space = values_space(points)
    else:
        points = [dict(p) for p in source.points] or None
        space = to_ray(plan.spec.space)
    return BasicVariantGenerator(points_to_evaluate=points, random_state=source.seed, max_concurrent=source.limit), space


def trial_loggers(tracking: Tracking, experiment_name: str) -> list[Any]:
    """The per-trial files: result.json and progress.csv, plus the spec's tracking (TensorBoard
    events, MLflow and W&B runs: ``runner.tracking``) on request.

    Ray adds all three when none is given, and its TensorBoard logger imports
    tensorboardX, which imports torch when torch is installed: about 1.5 s in the
    driver before the first trial starts, on every run. So raytuner names the loggers
    itself and turns Ray's automatic ones off (TunerPlan.environ). result.json,
    progress.csv and params.json/.pkl come from ``runner.trial_files.TrialFiles``, which
    keeps nothing for a trial once it ended (Ray's JSON/CSV loggers keep an entry per
    trial for the whole run: ray#64231). ``NoTrialProgress`` stands in for the console
    callback Ray adds otherwise (silent at verbose=0, it holds every Trial to the end).
    """
    from raytuner.runner.lean_trials import NoTrialProgress
    from raytuner.runner.trial_files import TrialFiles

    return [TrialFiles(), NoTrialProgress(), *tracking_callbacks(tracking, experiment_name)]


def build_stopper(tuning: TunerPlan) -> Any:
    """The spec's stopper (a RecordingStopper, or None), on the run's metric."""
    from raytuner.runner.stopping import build_stopper as build

    return build(tuning.stop, tuning.objective.name, tuning.objective.mode)


def multi_objective(plan: Plan, trials: list["TrialRecord"]) -> dict[str, Any]:
    """The objectives and Pareto front of a multi-objective run (nothing for one metric)."""
    from raytuner.results.pareto import pareto_front

    objectives = plan.objectives
    if len(objectives) < 2:
        return {}
    return {
        "objectives": [{"name": name, "mode": mode} for name, mode in objectives],
        "pareto_front": pareto_front(trials, objectives),
    }
