"""Data as torch Datasets: bundled or file tables as tensors, or a user load function.

Loading happens once per worker process: the result is cached on what determines
it (the data fields that shape the split, the seed, and for a load function the
fixed params), so later epochs and later trials on a reused actor skip it.
Batches of in-memory tensors are cut by index (one gather per batch, not one
``__getitem__`` per sample), with a seeded generator reset every epoch so a
restored trial sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset

from raytuner.trainables.data import load_data
from raytuner.spec.registry import import_object
from raytuner.spec.sklearn import DataSpec
from raytuner.spec.torch import TorchDataSpec

IMAGE_SHAPES: dict[str, tuple[int, ...]] = {"sklearn:digits": (1, 8, 8)}
# fields that change what is loaded (the rest are DataLoader options)
_KEY_FIELDS = ("source", "load", "target", "features", "task", "shape", "val_fraction", "subset", "standardize")

_CACHE: dict[str, "TensorData"] = {}
LOADS = {"count": 0}  # how often data was really loaded in this process (tests, benchmarks)


@dataclass(frozen=True)
class TensorData:
    train: Dataset
    val: Dataset
    in_shape: tuple[int, ...]
    out_dim: int
    task: str | None
    preprocess: "Preprocess | None" = None  # tables only: what an exported model needs to predict


@dataclass(frozen=True)
class Preprocess:
    """How a table's rows became the model's inputs (saved beside an exported model)."""

    feature_names: list[str]
    mean: list[float] | None  # data.standardize: the training split's mean and std per feature
    std: list[float] | None
    classes: list[Any] | None  # classification: the label of each output (the targets' sorted values)


def cache_key(spec: TorchDataSpec, seed: int | None, params: Mapping[str, Any]) -> str:
    fields = {name: getattr(spec, name) for name in _KEY_FIELDS}
    return json.dumps([fields, seed, dict(params) if spec.load else None], sort_keys=True, default=str)


def load_tensors(
    spec: TorchDataSpec, *, seed: int | None, task: str | None, config: Mapping[str, Any], params: Mapping[str, Any]
) -> TensorData:
    """The train/val Datasets, loaded once per process for the same key."""
    key = cache_key(spec, seed, params)
    if key not in _CACHE:
        LOADS["count"] += 1
        _CACHE[key] = _load_user(spec, task, config) if spec.load else _load_table(spec, seed, task)
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


@dataclass(frozen=True)
class Split:
    """A table's rows as the trials split them, before standardisation (labels as class indices)."""

    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    feature_names: list[str]
    classes: list[Any] | None
    task: str | None


def split_table(spec: TorchDataSpec, seed: int | None, task: str | None) -> Split:
    """Load the table and split it as every trial does: ``subset`` rows, then ``val_fraction`` held
    out (stratified for classification), both at ``seed``."""
    from sklearn.model_selection import train_test_split

    if spec.source is None:  # pragma: no cover - TorchDataSpec requires source or load
        raise ValueError("data.source is not set")
    table = load_data(DataSpec(source=spec.source, target=spec.target, features=spec.features, task=spec.task))
    task = task or table.task
    X = np.asarray(table.X, dtype=np.float32)
    y = np.asarray(table.y)
    classify = task == "classification"
    classes = None
    if classify:
        labels, y = np.unique(y, return_inverse=True)
        classes = labels.tolist()
    stratify = y if classify else None
    if spec.subset is not None and spec.subset < len(X):
        X, _, y, _ = train_test_split(X, y, train_size=spec.subset, random_state=seed, stratify=stratify)
        stratify = y if classify else None
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=spec.val_fraction, random_state=seed, stratify=stratify
    )
    return Split(X_train, X_val, y_train, y_val, list(table.feature_names), classes, task)


def _load_table(spec: TorchDataSpec, seed: int | None, task: str | None) -> TensorData:
    split = split_table(spec, seed, task)
    X_train, X_val, y_train, y_val, task = split.X_train, split.X_val, split.y_train, split.y_val, split.task
    classify = task == "classification"
    mean = std = None
    if spec.standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0] = 1.0
        X_train, X_val = (X_train - mean) / std, (X_val - mean) / std
    shape = _sample_shape(spec, X_train.shape[1])
    if classify:
        out_dim = int(max(y_train.max(), y_val.max())) + 1
        targets = [torch.as_tensor(t, dtype=torch.long) for t in (y_train, y_val)]
    else:
        out_dim = 1
        targets = [torch.as_tensor(t, dtype=torch.float32).reshape(-1, 1) for t in (y_train, y_val)]
    inputs = [torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).reshape(-1, *shape) for x in (X_train, X_val)]
    preprocess = Preprocess(split.feature_names, None if mean is None else mean.tolist(),
                            None if std is None else std.tolist(), split.classes)
    return TensorData(TensorDataset(inputs[0], targets[0]), TensorDataset(inputs[1], targets[1]), shape, out_dim, task,
                      preprocess)


def _sample_shape(spec: TorchDataSpec, n_features: int) -> tuple[int, ...]:
    if spec.shape == "vector":
        return (n_features,)
    if spec.shape == "image":
        if spec.source not in IMAGE_SHAPES:
            raise ValueError(f"shape 'image' is known for {', '.join(IMAGE_SHAPES)}; give [C, H, W] for {spec.source}")
        return IMAGE_SHAPES[spec.source]
    shape = tuple(int(s) for s in spec.shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(f"data.shape {list(shape)} holds {int(np.prod(shape))} values; the rows have {n_features}")
    return shape


def _load_user(spec: TorchDataSpec, task: str | None, config: Mapping[str, Any]) -> TensorData:
    fn = import_object(spec.load or "", "trainable.data.load")
    result = fn(dict(config))
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{spec.load} returned {type(result).__name__}; expected a (train, val) pair of Datasets")
    train, val = result
    for name, ds in (("train", train), ("val", val)):
        if not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")) or len(ds) == 0:
            raise TypeError(f"{spec.load}: the {name} part is not a non-empty map-style torch Dataset")
    x0, y0 = train[0][:2]
    in_shape = tuple(torch.as_tensor(x0).shape)
    if task == "classification":
        out_dim = _num_classes(train, val)
    else:
        out_dim = int(torch.as_tensor(y0).numel())
    return TensorData(train, val, in_shape, out_dim, task)


def _num_classes(*datasets: Any) -> int:
    declared = getattr(datasets[0], "num_classes", None) or len(getattr(datasets[0], "classes", []) or [])
    if declared:
        return int(declared)
    top = 0
    for ds in datasets:
        labels = getattr(ds, "targets", None)
        if labels is None and isinstance(ds, TensorDataset):
            labels = ds.tensors[1]
        if labels is None:
            labels = [ds[i][1] for i in range(len(ds))]
        top = max(top, int(torch.as_tensor(labels).max()))
    return top + 1


def _batched(ds: Dataset) -> bool:
    return isinstance(ds, TensorDataset)


class TensorBatches:
    """Batches of in-memory tensors by index, like a hand-written loop: one ``randperm``
    per epoch (from the seeded generator), one gather per batch, no per-sample calls.
    Small data is moved to the training device once."""

    ON_DEVICE_LIMIT = 512 * 1024**2  # bytes

    def __init__(self, ds: TensorDataset, batch_size: int, *, shuffle: bool, drop_last: bool,
                 generator: torch.Generator, device: torch.device) -> None:
        size = sum(t.numel() * t.element_size() for t in ds.tensors)
        target = device if device.type != "cpu" and size <= self.ON_DEVICE_LIMIT else torch.device("cpu")
        self.dataset = ds
        self.tensors = tuple(t.to(target) for t in ds.tensors)
        self.n = len(ds)
        self.batch_size, self.shuffle, self.drop_last, self.generator = batch_size, shuffle, drop_last, generator

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Any:
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else None
        device = self.tensors[0].device
        if order is not None and device.type != "cpu":
            order = order.to(device)
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            if order is None:
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                index = order[start:start + self.batch_size]
                yield tuple(t[index] for t in self.tensors)


def make_loader(
    ds: Dataset,
    spec: TorchDataSpec,
    *,
    train: bool,
    generator: torch.Generator,
    pin_memory: bool,
    sampler: Any = None,
    device: torch.device | None = None,
) -> Any:
    """A DataLoader; in-memory tensors are cut one index batch at a time (without a
    DataLoader at all when there are no loader workers and no distributed sampler)."""
    batch_size = spec.batch_size if train else spec.eval_batch_size
    shuffle = train and spec.shuffle
    drop_last = train and spec.drop_last
    if _batched(ds) and sampler is None and spec.num_workers == 0:
        return TensorBatches(ds, batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator,
                             device=device or torch.device("cpu"))
    common: dict[str, Any] = {"num_workers": spec.num_workers, "pin_memory": pin_memory}
    if spec.num_workers > 0:
        common["persistent_workers"] = True
    if _batched(ds):
        base = sampler if sampler is not None else (
            RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
        )
        batches = BatchSampler(base, batch_size, drop_last)
        return DataLoader(ds, sampler=batches, batch_size=None, collate_fn=_identity, **common)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=shuffle if sampler is None else None, sampler=sampler,
        drop_last=drop_last, generator=generator, **common,
    )


def _identity(batch: Any) -> Any:
    return batch
