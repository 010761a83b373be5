"""Unit tests run without Ray: starting or joining one here is a failure.

``ray.init`` raises inside every unit test, and a test after which Ray is up (when it
was not before) fails, so a test that reaches Ray belongs in tests/integration/.
Subprocesses (the console-script tests) are not watched: they start no Ray either.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


class RayStartedInUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import ray

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RayStartedInUnitTest("a unit test called ray.init: move it to tests/integration/")

    was_up = ray.is_initialized()
    monkeypatch.setattr(ray, "init", refuse)
    yield
    if not was_up and ray.is_initialized():
        ray.shutdown()
        pytest.fail("Ray was started during a unit test: move it to tests/integration/")
