"""What scheduling did: typed records behind ``summary.json``'s ``scheduling``.

``to_data``/``from_data`` keep summary.json's shape::

    scheduling  {scheduler[, early_stopping: {max_steps, trials, stopped_early, stopped_by,
                 stop_reasons, steps_used, steps_if_all_ran, steps_saved, stopped_trials}]
                 [, population: {exploits, events: [event], schedules: {trial id: [event]}}]}
    event       {trial, step, cloned, donor_step, changed: {name: [old, new]}, replaced: {...}}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EarlyStopping:
    """Trials stopped before ``max_steps``: by what, and the steps that saved."""

    max_steps: int
    trials: int  # finished trials
    stopped_early: int
    stopped_by: dict[str, int]  # reason -> trials ("scheduler", "target", "plateau", ...)
    stop_reasons: dict[str, str]  # trial id -> reason
    steps_used: int
    steps_if_all_ran: int
    steps_saved: int
    stopped_trials: list[str]

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EarlyStopping:
        return cls(**data)


@dataclass(frozen=True)
class ExploitEvent:
    """One PBT/PB2 exploit: ``trial`` at ``step`` cloned ``cloned`` (at its ``donor_step``)."""

    trial: str
    step: Any
    cloned: str
    donor_step: Any
    changed: dict[str, list[Any]] = field(default_factory=dict)  # vs the donor: name -> [old, new]
    replaced: dict[str, list[Any]] = field(default_factory=dict)  # vs the trial's own config

    def to_data(self) -> dict[str, Any]:
        return {"trial": self.trial, "step": self.step, "cloned": self.cloned, "donor_step": self.donor_step,
                "changed": {k: list(v) for k, v in self.changed.items()},
                "replaced": {k: list(v) for k, v in self.replaced.items()}}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ExploitEvent:
        return cls(**data)


@dataclass(frozen=True)
class PopulationHistory:
    """Every exploit of a population-based scheduler and the schedule each trial followed."""

    exploits: int
    events: list[ExploitEvent]
    schedules: dict[str, list[ExploitEvent]]  # trial id -> its lineage's exploits, oldest first

    def to_data(self) -> dict[str, Any]:
        return {"exploits": self.exploits, "events": [e.to_data() for e in self.events],
                "schedules": {t: [e.to_data() for e in events] for t, events in self.schedules.items()}}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PopulationHistory:
        return cls(
            exploits=data["exploits"],
            events=[ExploitEvent.from_data(e) for e in data["events"]],
            schedules={t: [ExploitEvent.from_data(e) for e in events] for t, events in data["schedules"].items()},
        )


@dataclass(frozen=True)
class SchedulingReport:
    """The scheduler's name, early stopping counts and (PBT/PB2) the population's history."""

    scheduler: str | None = None
    early_stopping: EarlyStopping | None = None
    population: PopulationHistory | None = None

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler
        if self.early_stopping is not None:
            out["early_stopping"] = self.early_stopping.to_data()
        if self.population is not None:
            out["population"] = self.population.to_data()
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> SchedulingReport:
        data = data or {}
        early, population = data.get("early_stopping"), data.get("population")
        return cls(
            scheduler=data.get("scheduler"),
            early_stopping=EarlyStopping.from_data(early) if early else None,
            population=PopulationHistory.from_data(population) if population else None,
        )
