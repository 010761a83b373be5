"""The contract every scheduler keeps: subclass ``SchedulerContract`` once per scheduler.

The scheduler is built as the runner builds it (registry entry, options, a
``ScheduleContext``) and fed synthetic results through Ray's TrialScheduler API
(``on_trial_add``, ``on_trial_result``, ``choose_trial_to_run``) with stub Trials and a
small fake controller: no Ray starts. Which checks apply follows from what the class
says it does (``stops_early``, ``synchronous``, ``explores_itself``), never from its name::

    from raytuner.testing.schedulers import SchedulerContract

    class TestMine(SchedulerContract):
        scheduler_name = "mine"          # a name in raytuner.schedulers.SCHEDULERS
        options = {"grace_period": 1}    # short settings for a 12-step test (optional)

A check that does not apply to the scheduler is removed from the subclass, so it is
neither run nor counted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from raytuner.spec.loader import validate_options
from raytuner.schedulers import SCHEDULERS, ScheduleContext, Scheduler
from raytuner.spec.params import parse_space

STEPS = 12
SPACE = {"rate": {"type": "float", "low": 0.0, "high": 2.0}}


class _Searcher:
    """What HyperBandForBOHB tells the searcher: a trial paused or resumed."""

    def on_pause(self, trial_id: str) -> None:
        pass

    def on_unpause(self, trial_id: str) -> None:
        pass


class _SearchAlg:
    def __init__(self) -> None:
        self.searcher = _Searcher()


class FakeController:
    """The part of Ray's TuneController a scheduler calls: trials, pause, stop, save."""

    def __init__(self) -> None:
        self.search_alg = _SearchAlg()
        self.trials: list[Any] = []
        self.paused: list[str] = []
        self.stopped: list[str] = []
        self.saved: list[str] = []

    def get_trials(self) -> list[Any]:
        return list(self.trials)

    def get_live_trials(self) -> list[Any]:
        from ray.tune.experiment import Trial

        return [t for t in self.trials if t.status != Trial.TERMINATED]

    def pause_trial(self, trial: Any, should_checkpoint: bool = True) -> None:
        from ray.tune.experiment import Trial

        trial.set_status(Trial.PAUSED)
        self.paused.append(trial.trial_id)

    def stop_trial(self, trial: Any, *args: Any, **kwargs: Any) -> None:
        from ray.tune.experiment import Trial

        trial.set_status(Trial.TERMINATED)
        self.stopped.append(trial.trial_id)

    def _schedule_trial_save(self, trial: Any, result: Any = None) -> Any:
        from ray.train import Checkpoint

        self.saved.append(trial.trial_id)
        return Checkpoint(f"/nonexistent/checkpoint-of-{trial.trial_id}")


class SchedulerContract:
    """Checks on the decisions of one registered scheduler (a pytest test class base)."""

    scheduler_name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}  # short settings for a STEPS-step test
    metric: ClassVar[str] = "score"
    mode: ClassVar[str] = "max"  # higher is better in the synthetic curves below
    strategy: ClassVar[str] = "random"  # the strategy the context names (bohb's scheduler needs bohb)
    # rates of the synthetic trials for synchronous halving, best first (a bracket to fill)
    population: ClassVar[list[float]] = [2.0, 1.8, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.01]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("scheduler_name")
        if name is None:
            return
        scheduler = SCHEDULERS.get(name)
        for check, applies in cls.applicable(scheduler).items():
            if not applies:
                setattr(cls, check, None)  # not collected: it does not apply to this scheduler

    @staticmethod
    def applicable(scheduler: type[Scheduler]) -> dict[str, bool]:
        """Which checks apply, from what the scheduler class says it does."""
        asynchronous_stopper = scheduler.stops_early and not scheduler.synchronous
        return {
            "test_never_ends_a_trial_early": not scheduler.stops_early and not scheduler.explores_itself,
            "test_stops_a_clearly_worse_trial_and_continues_the_best": asynchronous_stopper,
            "test_synchronous_halving_stops_the_worst_and_keeps_the_best": scheduler.synchronous,
            "test_bottom_trial_clones_a_top_trials_checkpoint": scheduler.explores_itself,
        }

    # -- hooks ----------------------------------------------------------------------
    def context(self) -> ScheduleContext:
        return ScheduleContext(metric=self.metric, mode=self.mode, seed=0, max_steps=STEPS, strategy=self.strategy,
                               space=parse_space(SPACE), checkpoints=True)

    def make_scheduler(self) -> tuple[Scheduler, Any]:
        """(our Scheduler, the Ray TrialScheduler it builds); Ray's FIFO when it builds None."""
        from ray.tune.schedulers import FIFOScheduler

        cls = SCHEDULERS.get(self.scheduler_name)
        ours = cls(validate_options(cls.Options, dict(self.options), "scheduler.options"))
        ctx = self.context()
        ours.check(ctx)
        built = ours.build(ctx)
        if built is None:
            built = FIFOScheduler()
        if hasattr(built, "set_search_properties"):
            built.set_search_properties(self.metric, self.mode)
        return ours, built

    # -- driving --------------------------------------------------------------------
    def start(self, built: Any, rates: list[float]) -> tuple[FakeController, list[Any]]:
        from ray.tune.experiment import Trial

        controller = FakeController()
        trials = []
        for i, rate in enumerate(rates):
            trial = Trial("raytuner_contract", config={"rate": rate}, stub=True, trial_id=f"t{i}",
                          experiment_tag=f"{i}_rate={rate}")
            controller.trials.append(trial)
            built.on_trial_add(controller, trial)
            trials.append(trial)
        for trial in trials:
            trial.set_status(Trial.RUNNING)
        return controller, trials

    def report(self, built: Any, controller: FakeController, trial: Any, step: int) -> str:
        score = trial.config["rate"] * step
        result = {self.metric: score, "training_iteration": step, "time_total_s": float(step),
                  "trial_id": trial.trial_id, "done": False}
        trial.update_last_result(result)
        return built.on_trial_result(controller, trial, result)

    def drive(self, rates: list[float], steps: int = STEPS) -> tuple[FakeController, list[Any], dict[str, list[str]]]:
        """Every running trial reports once per step, in lock step; returns each trial's decisions."""
        from ray.tune.experiment import Trial
        from ray.tune.schedulers import TrialScheduler

        _, built = self.make_scheduler()
        controller, trials = self.start(built, rates)
        decisions: dict[str, list[str]] = {t.trial_id: [] for t in trials}
        done: dict[str, int] = {t.trial_id: 0 for t in trials}
        for _ in range(steps * len(trials) * 2):
            for trial in trials:
                if trial.status == Trial.PAUSED and trial.trial_id not in controller.stopped:
                    trial.set_status(Trial.RUNNING)  # a paused trial resumes (HyperBand, PBT)
            running = [t for t in trials if t.status == Trial.RUNNING and done[t.trial_id] < steps]
            if not running:
                break
            for trial in running:
                if trial.status != Trial.RUNNING:
                    continue
                done[trial.trial_id] += 1
                decision = self.report(built, controller, trial, done[trial.trial_id])
                decisions[trial.trial_id].append(decision)
                if decision == TrialScheduler.STOP:
                    trial.set_status(Trial.TERMINATED)
                elif decision == TrialScheduler.PAUSE:
                    trial.set_status(Trial.PAUSED)
        self.built = built
        return controller, trials, decisions

    # -- the checks -----------------------------------------------------------------
    def test_builds_a_trial_scheduler(self) -> None:
        from ray.tune.schedulers import TrialScheduler

        _, built = self.make_scheduler()
        assert isinstance(built, TrialScheduler)

    def test_never_ends_a_trial_early(self) -> None:
        from ray.tune.schedulers import TrialScheduler

        controller, trials, decisions = self.drive([0.1, 1.0, 2.0])
        for trial in trials:
            assert decisions[trial.trial_id] == [TrialScheduler.CONTINUE] * STEPS, decisions
        assert not controller.stopped and not controller.paused

    def test_stops_a_clearly_worse_trial_and_continues_the_best(self) -> None:
        from ray.tune.schedulers import TrialScheduler

        controller, trials, decisions = self.drive([2.0, 1.5, 1.0, 0.01])  # the worst reports last
        best, worst = trials[0], trials[-1]
        assert TrialScheduler.STOP in decisions[worst.trial_id], decisions
        assert len(decisions[worst.trial_id]) < STEPS  # stopped before its last step
        assert TrialScheduler.STOP not in decisions[best.trial_id][:-1], decisions
        assert len(decisions[best.trial_id]) == STEPS and best.trial_id not in controller.stopped

    def test_synchronous_halving_stops_the_worst_and_keeps_the_best(self) -> None:
        from ray.tune.schedulers import TrialScheduler

        controller, trials, decisions = self.drive(self.population)
        best, worst = trials[0], trials[-1]
        ended_worst = TrialScheduler.STOP in decisions[worst.trial_id] or worst.trial_id in controller.stopped
        assert ended_worst and len(decisions[worst.trial_id]) < STEPS, decisions
        assert len(decisions[best.trial_id]) == STEPS, decisions  # the best reached its last step

    def test_bottom_trial_clones_a_top_trials_checkpoint(self) -> None:
        controller, trials, _ = self.drive([0.01, 0.5, 1.0, 2.0], steps=6)
        worst, best = trials[0], trials[-1]
        assert worst.trial_id in controller.paused  # paused to restart from the donor's checkpoint
        assert best.trial_id in controller.saved and best.trial_id not in controller.paused
        history = getattr(self.built, "raytuner_exploits", None)
        if history is not None:  # our recording PBT/PB2
            cloned = [e for e in history if e.trial == worst.trial_id]
            assert cloned and {e.cloned for e in cloned} <= {t.trial_id for t in trials[2:]}
        checkpoint = worst.run_metadata.checkpoint_manager._latest_checkpoint_result.checkpoint
        assert checkpoint.path.rsplit("-", 1)[1] in {t.trial_id for t in trials[2:]}
        low, high = SPACE["rate"]["low"], SPACE["rate"]["high"]
        assert low <= worst.config["rate"] <= high  # explored inside the space


def contract_for(name: str, **attributes: Any) -> type[SchedulerContract]:
    """A SchedulerContract subclass for registry entry ``name`` (for parametrised test modules)."""
    return type(f"TestScheduler_{name.replace('-', '_')}", (SchedulerContract,),
                {"scheduler_name": name, **attributes})


__all__ = ["FakeController", "SchedulerContract", "contract_for", "STEPS", "SPACE"]
