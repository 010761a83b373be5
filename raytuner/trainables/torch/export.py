"""The best torch model back: a trial checkpoint exported as plain torch files, and loaded again.

An export directory (``<experiment>/model/``) holds

* ``model.pt``: the model's ``state_dict`` alone (pruning made permanent with
  ``torch.nn.utils.prune.remove``: plain ``weight`` tensors, no ``weight_orig``/``weight_mask``),
  loadable with ``torch.load(path, weights_only=True)``;
* ``preprocess.pt``: ``{"mean": Tensor, "std": Tensor}``, the training split's standardisation
  (tables with ``data.standardize``; also ``weights_only``-loadable);
* ``model.json``: what rebuilds and feeds it: the model spec (``model``), the whole trainable spec
  with the trial's values (``trainable``), input shape, output size, task, feature columns,
  mean/std, class labels, and the trial, step and score it came from.

:func:`load_torch_model` turns such a directory into a :class:`TorchModel` with ``predict``
(and ``predict_proba`` for classifiers), as ``raytuner.load_model`` returns it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from raytuner.spec.torch import TorchTrainableSpec
from raytuner.trainables.torch import checkpoint as ckpt
from raytuner.trainables.torch.data import load_tensors
from raytuner.trainables.torch.models import build_model
from raytuner.trainables.torch.optim import build_loss
from raytuner.trainables.torch.pruning import prepare_for_state, prunable
from raytuner.trainables.torch.tuning import effective_spec, user_config

MODEL_FILE = "model.pt"
PREPROCESS_FILE = "preprocess.pt"
FRAMEWORK = "torch"


def make_permanent(model: nn.Module) -> int:
    """Fold every pruning mask into its weight (``prune.remove``); returns the modules changed."""
    changed = 0
    for module, name in prunable(model):
        if prune.is_pruned(module) and hasattr(module, name + "_mask"):
            prune.remove(module, name)
            changed += 1
    return changed


def export_checkpoint(setup: Any, config: Mapping[str, Any], checkpoint_dir: str | Path, out: str | Path) -> dict[str, Any]:
    """Write ``model.pt`` (and ``preprocess.pt``) from a trial checkpoint into ``out``; returns the
    model's part of ``model.json``. ``setup``: the trainable's ``TrialSetup``; ``config``: the trial's."""
    spec = effective_spec(TorchTrainableSpec.model_validate(setup.spec), config)
    user = user_config(spec, config)
    data = load_tensors(spec.data, seed=setup.seed, task=setup.task, config=user, params=spec.params)
    model = build_model(spec, data.in_shape, data.out_dim, user)
    state = ckpt.load(checkpoint_dir)
    if state.get("pruned"):
        prepare_for_state(model, state["model"])
    model.load_state_dict(state["model"])
    pruned = make_permanent(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / MODEL_FILE)
    files = [MODEL_FILE]
    pre = data.preprocess
    if pre is not None and pre.mean is not None:
        torch.save({"mean": torch.tensor(pre.mean), "std": torch.tensor(pre.std)}, out / PREPROCESS_FILE)
        files.append(PREPROCESS_FILE)
    return {
        "framework": FRAMEWORK, "files": files, "model": spec.model.model_dump(mode="json"),
        "trainable": spec.model_dump(mode="json"), "user_config": dict(user), "in_shape": list(data.in_shape),
        "out_dim": data.out_dim, "task": data.task, "epoch": int(state["epoch"]), "pruned_modules": pruned,
        "feature_names": pre.feature_names if pre else None, "target": spec.data.target,
        "mean": pre.mean if pre else None, "std": pre.std if pre else None, "classes": pre.classes if pre else None,
    }


class TorchModel:
    """A trained torch model with scikit-learn's predicting methods: ``predict(X)`` takes raw rows
    (the training columns; standardised here as in training), ``predict_proba(X)`` for classifiers."""

    def __init__(self, module: nn.Module, meta: Mapping[str, Any]) -> None:
        self.module = module.eval()
        self.meta = dict(meta)
        self.task = meta.get("task")
        self.in_shape = tuple(meta["in_shape"])
        classes = meta.get("classes")
        self.classes_ = np.asarray(classes) if classes is not None else None
        self._mean = None if meta.get("mean") is None else np.asarray(meta["mean"], dtype=np.float32)
        self._std = None if meta.get("std") is None else np.asarray(meta["std"], dtype=np.float32)

    def _inputs(self, X: Any) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if self._mean is not None:
            X = (X - self._mean) / self._std
        return torch.as_tensor(np.ascontiguousarray(X)).reshape(-1, *self.in_shape)

    @torch.no_grad()
    def forward(self, X: Any) -> torch.Tensor:
        """The model's raw outputs (logits for classifiers) for raw rows."""
        return self.module(self._inputs(X))

    def predict(self, X: Any) -> np.ndarray:
        out = self.forward(X)
        if self.task == "classification":
            index = out.argmax(dim=1).numpy()
            return self.classes_[index] if self.classes_ is not None else index
        return out.reshape(len(out), -1).squeeze(1).numpy() if out.shape[-1] == 1 else out.numpy()

    @property
    def predict_proba(self) -> Any:
        """Class probabilities (softmax of the logits), one column per ``classes_``; classifiers only."""
        if self.task != "classification":
            raise AttributeError("predict_proba: this torch model is a regressor")
        return lambda X: torch.softmax(self.forward(X).float(), dim=1).numpy()

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """The metrics the trials report on validation data (``val_loss``, ``val_accuracy`` or
        ``val_mae``/``val_r2``), for raw rows ``X`` and labels (or targets) ``y``."""
        spec = TorchTrainableSpec.model_validate(self.meta["trainable"])
        out = self.forward(X)
        y = np.asarray(y)
        if self.task == "classification":
            index = {label: i for i, label in enumerate(self.classes_.tolist())} if self.classes_ is not None else None
            target = torch.as_tensor([index[v] for v in y.tolist()] if index else y.astype(np.int64))
            loss = build_loss(spec.loss, self.task)(out, target)
            return {"val_loss": float(loss), "val_accuracy": float((out.argmax(dim=1) == target).double().mean())}
        target = torch.as_tensor(y, dtype=torch.float32).reshape(out.shape)
        loss = build_loss(spec.loss, self.task)(out, target)
        err = (out.double() - target.double()).reshape(-1)
        var = float(((target.double() - target.double().mean()) ** 2).sum())
        return {"val_loss": float(loss), "val_mae": float(err.abs().mean()),
                "val_r2": 1.0 - float((err**2).sum()) / var if var > 0 else math.nan}

    def score_table(self, X: Any, y: Any, metric: str) -> float | None:
        """``metric`` on rows with their targets (``raytuner predict`` with the target column)."""
        return self.evaluate(X, y).get(metric)


def load_torch_model(directory: str | Path, meta: Mapping[str, Any]) -> TorchModel:
    """Rebuild the model from ``model.json``'s spec and load ``model.pt`` (``weights_only=True``)."""
    spec = TorchTrainableSpec.model_validate(meta["trainable"])
    module = build_model(spec, tuple(meta["in_shape"]), int(meta["out_dim"]), dict(meta.get("user_config") or {}))
    module.load_state_dict(torch.load(Path(directory) / MODEL_FILE, map_location="cpu", weights_only=True))
    return TorchModel(module, meta)
