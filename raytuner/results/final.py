"""What the steps after the search left: typed records behind ``summary.json``'s ``final``.

Each finish step (raytuner.runner.finish) returns one record; :class:`FinalResults`
holds them by step name. ``to_data``/``from_data`` keep summary.json's shape::

    final.refit     {trial_id, config, cv_score, holdout_score, fit_time_s, search_rows,
                     holdout_rows[, path, files, skipped], time_s}
    final.ensemble  {method, options, members, weights, oof_score, <method details>, top_k,
                     member_trials, holdout_score, best_single_holdout_score, search_rows,
                     holdout_rows[, path, files, skipped][, time_s]}
    final.export    {trial_id, config, score, score_step, exported_step, scope[, path, files, skipped], time_s}
    a skipped step  {"skipped": why, "time_s": ...}
    a failed step   {"error": "Type: message", "traceback": ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Union


@dataclass(frozen=True)
class SavedFiles:
    """Where a step saved its model: the directory, the files written, formats skipped (why)."""

    path: str
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "files": list(self.files), "skipped": dict(self.skipped)}

    @classmethod
    def pop_from(cls, data: dict[str, Any]) -> SavedFiles | None:
        """The saved-files keys of a step's data (removed from it), or None when nothing was saved."""
        if "path" not in data:
            return None
        return cls(path=data.pop("path"), files=list(data.pop("files", [])), skipped=dict(data.pop("skipped", {})))


@dataclass(frozen=True)
class StepFailure:
    """A step that raised: the search's results are kept, the error is reported."""

    error: str
    traceback: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"error": self.error, "traceback": self.traceback}


@dataclass(frozen=True)
class StepSkipped:
    """A step that had nothing to do (e.g. no trial finished with a score)."""

    reason: str
    time_s: float | None = None

    def to_data(self) -> dict[str, Any]:
        return _timed({"skipped": self.reason}, self.time_s)

    def timed(self, seconds: float) -> StepSkipped:
        return replace(self, time_s=seconds)


@dataclass(frozen=True)
class RefitResult:
    """The best config refit on every search row, scored on the holdout, maybe saved."""

    trial_id: str
    config: dict[str, Any]
    cv_score: float | None
    holdout_score: float | None
    fit_time_s: float
    search_rows: int
    holdout_rows: int | None
    saved: SavedFiles | None = None
    time_s: float | None = None

    def model_data(self) -> dict[str, Any]:
        """What the result says about the model (model.json's fields from the step)."""
        return {
            "trial_id": self.trial_id, "config": self.config, "cv_score": self.cv_score,
            "holdout_score": self.holdout_score, "fit_time_s": self.fit_time_s,
            "search_rows": self.search_rows, "holdout_rows": self.holdout_rows,
        }

    def to_data(self) -> dict[str, Any]:
        return _timed({**self.model_data(), **(self.saved.to_data() if self.saved else {})}, self.time_s)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RefitResult:
        data = dict(data)
        saved = SavedFiles.pop_from(data)
        return cls(**data, saved=saved)

    def timed(self, seconds: float) -> RefitResult:
        return replace(self, time_s=seconds)


_ENSEMBLE_HEAD = ("method", "options", "members", "weights", "oof_score")
_ENSEMBLE_TAIL = ("top_k", "member_trials", "holdout_score", "best_single_holdout_score", "search_rows", "holdout_rows")


@dataclass(frozen=True)
class EnsembleResult:
    """The top-k configs' ensemble: what the method chose, its OOF and holdout scores, maybe saved."""

    method: str
    options: dict[str, Any]
    members: int
    weights: list[float]
    oof_score: float
    top_k: int
    member_trials: list[str]
    holdout_score: float
    best_single_holdout_score: float | None
    search_rows: int
    holdout_rows: int
    details: dict[str, Any] = field(default_factory=dict)  # the method's own (member_oof_scores, picks, ...)
    saved: SavedFiles | None = None
    time_s: float | None = None

    @classmethod
    def of(cls, info: dict[str, Any], **rest: Any) -> EnsembleResult:
        """From :func:`raytuner.ensemble.build_ensemble`'s info and the step's own fields."""
        return cls.from_data({**info, **rest})

    def model_data(self) -> dict[str, Any]:
        head = {name: getattr(self, name) for name in _ENSEMBLE_HEAD}
        tail = {name: getattr(self, name) for name in _ENSEMBLE_TAIL}
        return {**head, **self.details, **tail}

    def to_data(self) -> dict[str, Any]:
        return _timed({**self.model_data(), **(self.saved.to_data() if self.saved else {})}, self.time_s)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EnsembleResult:
        data = dict(data)
        saved = SavedFiles.pop_from(data)
        time_s = data.pop("time_s", None)
        known = {name: data.pop(name) for name in (*_ENSEMBLE_HEAD, *_ENSEMBLE_TAIL)}
        return cls(**known, details=data, saved=saved, time_s=time_s)

    def timed(self, seconds: float) -> EnsembleResult:
        return replace(self, time_s=seconds)


@dataclass(frozen=True)
class ExportResult:
    """The best trial's checkpoint exported as a model (torch: ``model.pt``, see ``raytuner.load_model``)."""

    trial_id: str
    config: dict[str, Any]
    score: float | None  # the trial's score (metric.scope)
    score_step: int | None  # the step it comes from
    exported_step: int  # the step of the exported checkpoint (the score's, unless none was kept there)
    scope: str
    saved: SavedFiles | None = None
    time_s: float | None = None

    def model_data(self) -> dict[str, Any]:
        return {"trial_id": self.trial_id, "config": self.config, "score": self.score, "score_step": self.score_step,
                "exported_step": self.exported_step, "scope": self.scope}

    def to_data(self) -> dict[str, Any]:
        return _timed({**self.model_data(), **(self.saved.to_data() if self.saved else {})}, self.time_s)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ExportResult:
        data = dict(data)
        saved = SavedFiles.pop_from(data)
        return cls(**data, saved=saved)

    def timed(self, seconds: float) -> ExportResult:
        return replace(self, time_s=seconds)


RefitOutcome = Union[RefitResult, StepSkipped, StepFailure]
ExportOutcome = Union[ExportResult, StepSkipped, StepFailure]
EnsembleOutcome = Union[EnsembleResult, StepSkipped, StepFailure]
StepOutcome = Union[RefitResult, EnsembleResult, ExportResult, StepSkipped, StepFailure]


@dataclass(frozen=True)
class FinalResults:
    """Every finish step's outcome by step name (None: the step did not apply)."""

    refit: RefitOutcome | None = None
    ensemble: EnsembleOutcome | None = None
    export: ExportOutcome | None = None

    def steps(self) -> list[tuple[str, StepOutcome]]:
        """(name, outcome) of the steps that ran, in order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]

    def with_step(self, name: str, outcome: StepOutcome) -> FinalResults:
        if name not in {f.name for f in fields(self)}:
            raise ValueError(f"no finish step named {name!r}")
        return replace(self, **{name: outcome})

    @property
    def refit_result(self) -> RefitResult | None:
        return self.refit if isinstance(self.refit, RefitResult) else None

    @property
    def ensemble_result(self) -> EnsembleResult | None:
        return self.ensemble if isinstance(self.ensemble, EnsembleResult) else None

    def to_data(self) -> dict[str, Any]:
        return {name: outcome.to_data() for name, outcome in self.steps()}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> FinalResults:
        parsers = {"refit": RefitResult.from_data, "ensemble": EnsembleResult.from_data,
                   "export": ExportResult.from_data}
        out: dict[str, Any] = {}
        for name, value in (data or {}).items():
            if name not in parsers:
                raise ValueError(f"unknown final step {name!r}")
            out[name] = _outcome(value, parsers[name])
        return cls(**out)


def _outcome(data: dict[str, Any], parse: Any) -> Any:
    if "error" in data:
        return StepFailure(error=data["error"], traceback=data.get("traceback", ""))
    if isinstance(data.get("skipped"), str):
        return StepSkipped(reason=data["skipped"], time_s=data.get("time_s"))
    return parse(data)


def _timed(data: dict[str, Any], time_s: float | None) -> dict[str, Any]:
    return data if time_s is None else {**data, "time_s": time_s}
