"""Typed hand-offs of the history store: what is recorded, what is read back, what a warm start did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class HistoryTrial:
    trial_id: str
    config: dict[str, Any]
    score: float | None
    status: str
    steps: int


@dataclass(frozen=True)
class HistoryExperiment:
    """One experiment as the store holds it (``id`` is None until recorded)."""

    name: str
    path: str
    spec: dict[str, Any]
    metric: str
    mode: str
    strategy: str
    scheduler: str
    started_at: str
    wall_time_s: float
    state: str  # "finished" | "failed" (every trial failed) | "interrupted"
    family: str  # estimator / function / model import path: warm starts only cross within one
    fingerprint: dict[str, Any]
    best_score: float | None
    best_config: dict[str, Any] | None
    trials: tuple[HistoryTrial, ...] = ()
    id: int | None = None
    recorded_at: str | None = None
    host: str | None = None

    def ranked_configs(self) -> list[dict[str, Any]]:
        """Configs of the trials with a score, best first."""
        scored = [t for t in self.trials if t.score is not None and t.status == "ok"]
        scored.sort(key=lambda t: t.score, reverse=self.mode == "max")  # type: ignore[arg-type,return-value]
        return [t.config for t in scored]

    def to_data(self, trials: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not trials:
            data.pop("trials")
            data["trial_count"] = len(self.trials)
        return data


@dataclass(frozen=True)
class SimilarExperiment:
    experiment: HistoryExperiment
    distance: float


@dataclass
class WarmStart:
    """What a warm start seeded: its source, the experiments used, and what it changed."""

    source: str  # "history" or the experiment directory
    experiments: list[dict[str, Any]] = field(default_factory=list)  # [{id|path, name, distance}]
    configs: int = 0  # points handed to the strategy
    clipped: list[str] = field(default_factory=list)  # "max_depth: 40 -> 20"
    dropped: list[str] = field(default_factory=list)  # "config 2: criterion='log_loss' not in [...]"
    ignored: list[str] = field(default_factory=list)  # parameters of the old space not in the new one
    note: str | None = None  # why nothing was seeded, when so
    reused: int = 0  # past results on the same task told to the searcher, not re-run

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> "WarmStart | None":
        return None if not data else cls(**data)

    def describe(self) -> str:
        """One line for the console."""
        names = ", ".join(str(e.get("name")) for e in self.experiments)
        reused = (f"{self.reused} past result(s) of the same task told to the searcher, not re-run"
                  if self.reused else "")
        if not self.configs:
            if reused:
                return f"warm start from {self.source}: {reused} ({names})"
            return f"warm start from {self.source}: nothing seeded ({self.note or 'no usable config'})"
        line = f"warm start from {self.source}: {self.configs} config(s) of {names}"
        if reused:
            line += f"; {reused}"
        if self.clipped:
            line += f"; clipped {'; '.join(self.clipped)}"
        if self.dropped:
            line += f"; dropped {'; '.join(self.dropped)}"
        return line
