"""What each column of a table is, for the preprocessing inside the tuned pipeline.

Kinds: ``numeric``, ``categorical`` (text or booleans with few distinct values), ``date``
(ISO 8601 text, or a datetime column), ``text`` (identifier-like: distinct values in more
than ``text_unique_share`` of the rows, e.g. names; dropped by default) and ``empty`` (no
value at all: dropped). ``preprocess.columns`` overrides the detected kind per column.
Detection is pure pandas on the training rows; the plan is frozen and shipped to the trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from raytuner.errors import SpecError
from raytuner.spec.sklearn import PreprocessSpec

KINDS = ("numeric", "categorical", "date", "text", "empty", "drop")
DATE_SHARE = 0.9  # a text column is a date column when this share of its values parse as ISO dates
DATE_PARTS = ("year", "month", "day", "dayofweek")
# text columns with at most this many distinct values are categorical whatever their share
MIN_TEXT_UNIQUE = 20


def parse_dates() -> Any:
    """The date parser the pipeline uses (pandas only: it is pickled inside the saved model)."""
    import pandas as pd

    return partial(pd.to_datetime, errors="coerce", format="ISO8601")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS
    forced: bool = False  # set by preprocess.columns (not detected)

    def used(self, options: PreprocessSpec) -> bool:
        """Whether the pipeline uses it under these (possibly tuned) options."""
        if self.kind in ("empty", "drop"):
            return False
        if self.kind == "date":
            return options.date == "expand"
        if self.kind == "text":
            return options.text == "categorical" and not self.forced and options.categorical.encode != "drop"
        if self.kind == "categorical":
            return options.categorical.encode != "drop"
        return True

    def role(self, options: PreprocessSpec) -> str | None:
        """The pipeline block it goes to (numeric, categorical, date), or None when dropped."""
        if not self.used(options):
            return None
        return "categorical" if self.kind == "text" else self.kind


@dataclass(frozen=True)
class TablePlan:
    """The columns of a training table, each with its kind and what preprocessing does with it."""

    columns: tuple[Column, ...]
    rows: int
    dropped_target_rows: int = 0

    def names(self, role: str, options: PreprocessSpec) -> list[str]:
        return [c.name for c in self.columns if c.role(options) == role]

    def describe(self, options: PreprocessSpec) -> list[str]:
        """One line per treatment (columns named), and the rows dropped for a missing target."""
        lines = []
        if self.dropped_target_rows:
            lines.append(f"{self.dropped_target_rows} rows without a target value dropped ({self.rows} left)")
        by_note: dict[str, list[str]] = {}
        for column in self.columns:
            by_note.setdefault(_note(column, options), []).append(column.name)
        for note, names in by_note.items():
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            lines.append(f"{note}: {shown}")
        return lines

    def to_data(self, options: PreprocessSpec) -> dict[str, Any]:
        return {"rows": self.rows, "dropped_target_rows": self.dropped_target_rows,
                "columns": [{"name": c.name, "kind": c.kind, "used": c.used(options), "note": _note(c, options)}
                            for c in self.columns]}


def _is_date(values: Any) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    present = values.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return False
    sample = present.astype(str).head(500)
    if not sample.str.match(r"^\s*\d{4}-\d{1,2}-\d{1,2}").all():  # ISO 8601 only: no guessing of 01/02/03
        return False
    return bool(parse_dates()(sample).notna().mean() >= DATE_SHARE)


def detect_kind(values: Any, text_unique_share: float = 0.5) -> str:
    """The kind of one column (a pandas Series) by its values."""
    import pandas as pd

    present = values.dropna()
    if present.empty:
        return "empty"
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if _is_date(values):
        return "date"
    unique = present.nunique()
    if unique > MIN_TEXT_UNIQUE and unique > text_unique_share * len(present):
        return "text"
    return "categorical"


def _note(column: Column, options: PreprocessSpec) -> str:
    kind, forced, used = column.kind, column.forced, column.used(options)
    how = "set in preprocess.columns" if forced else "detected"
    if kind == "empty":
        return "dropped: no values"
    if not used:
        reasons = {"drop": "dropped (preprocess.columns)", "date": "dates dropped (preprocess.date: drop)",
                   "text": f"identifier-like text dropped (distinct values in over {options.text_unique_share:.0%} "
                           "of rows; preprocess.text: categorical keeps it)" if not forced else "text dropped (preprocess.columns)",
                   "categorical": "categorical dropped (preprocess.categorical.encode: drop)"}
        return reasons[kind]
    if kind == "categorical":
        return f"categorical{_cap(options)} ({how})"
    return {"numeric": f"numeric ({how})",
            "date": f"dates expanded to {'/'.join(DATE_PARTS)} ({how})",
            "text": f"identifier-like text kept as categorical{_cap(options)} (preprocess.text)"}[kind]


def _cap(options: PreprocessSpec) -> str:
    c = options.categorical
    return f", at most {c.max_categories} categories each" if c.max_categories else ""


def plan_table(frame: Any, options: PreprocessSpec, dropped_target_rows: int = 0,
               field: str = "trainable.preprocess.columns") -> TablePlan:
    """Each column's kind (detected, or set by ``preprocess.columns``) and whether it is used."""
    names = [str(c) for c in frame.columns]
    unknown = [name for name in options.columns if name not in names]
    if unknown:
        raise SpecError.at(f"{field}.{unknown[0]}", unknown[0], f"a feature column of the file: {', '.join(names)}")
    columns = []
    for name in names:
        forced = options.columns.get(name)
        columns.append(Column(name=name, kind=forced or detect_kind(frame[name], options.text_unique_share),
                              forced=forced is not None))
    check_kept(TablePlan(tuple(columns), len(frame)), options)
    return TablePlan(columns=tuple(columns), rows=len(frame), dropped_target_rows=dropped_target_rows)


def check_kept(plan: TablePlan, options: PreprocessSpec, field: str = "trainable.preprocess") -> None:
    """SpecError when these options drop every column."""
    if not any(c.used(options) for c in plan.columns):
        raise SpecError.at(field, options.model_dump(exclude_defaults=True) or "defaults",
                           f"at least one feature column kept (every column is dropped: {'; '.join(plan.describe(options))})")
