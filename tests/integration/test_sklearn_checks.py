"""scikit-learn's estimator checks that fit TuneSearchCV: each runs a (tiny) search on the shared
local Ray. Which checks run, and why the others are skipped: tests/unit/sklearn/test_checks.py."""

from __future__ import annotations

import warnings

import pytest

from tests.unit.sklearn.test_checks import CHECKS, RUN_WITH_FIT


@pytest.mark.parametrize("name, estimator, check", [c for c in CHECKS if c[0] in RUN_WITH_FIT], ids=lambda v: v if isinstance(v, str) else "")
def test_check_with_fit(name: str, estimator: object, check, ray_local: None) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
