"""Torch export pieces without Ray: pruning made permanent, the checkpoint picked, the model loaded back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raytuner.runner.export_step import pick_checkpoint  # noqa: E402
from raytuner.trainables.torch.export import MODEL_FILE, load_torch_model, make_permanent  # noqa: E402
from raytuner.trainables.torch.pruning import prune_to  # noqa: E402


def test_make_permanent_leaves_plain_weights_with_the_zeros() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    prune_to(model, 0.6)
    assert any(k.endswith("_mask") for k in model.state_dict())
    before = model[0].weight.detach().clone()
    assert make_permanent(model) == 2
    state = model.state_dict()
    assert sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert torch.equal(state["0.weight"], before)
    zeros = sum(int((state[k] == 0).sum()) for k in ("0.weight", "2.weight"))
    assert zeros == round(0.6 * 40)


def test_pick_checkpoint_prefers_the_step_then_the_newest_before() -> None:
    kept = [("c2", {"training_iteration": 2}), ("c4", {"training_iteration": 4}), ("c6", {"training_iteration": 6})]
    assert pick_checkpoint(kept, 4) == ("c4", 4)
    assert pick_checkpoint(kept, 5) == ("c4", 4)
    assert pick_checkpoint(kept, 1) == ("c2", 2)
    assert pick_checkpoint([], 3) is None


def test_load_torch_model_predicts_with_the_saved_standardisation(tmp_path: Path) -> None:
    from raytuner.spec.torch import TorchTrainableSpec
    from raytuner.trainables.torch.models import build_model

    spec = TorchTrainableSpec.model_validate({"type": "torch", "data": {"source": "sklearn:iris"},
                                              "model": {"type": "mlp", "depth": 1, "width": 4}})
    torch.manual_seed(0)
    module = build_model(spec, (4,), 3, {})
    torch.save(module.state_dict(), tmp_path / MODEL_FILE)
    mean, std = [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]
    meta = {"trainable": spec.model_dump(mode="json"), "in_shape": [4], "out_dim": 3, "task": "classification",
            "mean": mean, "std": std, "classes": ["a", "b", "c"]}
    (tmp_path / "model.json").write_text(json.dumps(meta))
    loaded = load_torch_model(tmp_path, meta)
    X = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 0.0, 5.0, 2.0]], dtype=np.float32)
    expected = module.eval()(torch.as_tensor((X - np.array(mean)) / np.array(std), dtype=torch.float32))
    assert list(loaded.predict(X)) == [["a", "b", "c"][i] for i in expected.argmax(dim=1).tolist()]
    np.testing.assert_allclose(loaded.predict_proba(X), torch.softmax(expected, 1).detach().numpy(), rtol=1e-6)
    labels = loaded.predict(X)
    assert loaded.evaluate(X, labels)["val_accuracy"] == 1.0
    regressor = load_torch_model(tmp_path, {**meta, "task": "regression", "classes": None})
    assert not hasattr(regressor, "predict_proba")
