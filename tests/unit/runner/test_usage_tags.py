"""Ray's callback usage tag (runner.early.light_usage_tags): recorded as Ray counts it, without
importing the logger integrations (mlflow alone ~0.9 s) on every first fit of a process."""

from __future__ import annotations


def test_rays_callback_usage_tag_is_recorded_as_ray_counts_it_without_its_imports(monkeypatch) -> None:
    import json

    from ray.air._internal import usage
    from ray.tune import Callback
    from ray.tune.logger import CSVLoggerCallback, LoggerCallback

    from raytuner.runner.early import light_usage_tags

    class Mine(LoggerCallback):
        pass

    callbacks = [CSVLoggerCallback(), Callback(), Mine(), Callback()]
    expected = dict(usage._count_callbacks(callbacks))  # Ray's own count (imports mlflow, W&B...)
    light_usage_tags()
    light_usage_tags()  # idempotent
    recorded: dict = {}
    monkeypatch.setattr(usage, "record_extra_usage_tag", lambda key, value: recorded.update({key: value}))
    assert usage.tag_callbacks(callbacks) is True
    assert json.loads(recorded[usage.TagKey.AIR_CALLBACKS]) == expected
    assert usage.tag_callbacks([]) is False
