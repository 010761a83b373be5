"""Models: the built-in MLP and small CNN, a class by import path, or a user build function."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from torch import nn

from raytuner.spec.registry import import_object
from raytuner.spec.torch import (
    BuildModelSpec,
    ClassModelSpec,
    CNNModelSpec,
    MLPModelSpec,
    TorchTrainableSpec,
)

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
}


def mlp(spec: MLPModelSpec, in_shape: tuple[int, ...], out_dim: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width_in = 1
    for size in in_shape:
        width_in *= size
    for _ in range(spec.depth):
        layers.append(nn.Linear(width_in, spec.width))
        if spec.batch_norm:
            layers.append(nn.BatchNorm1d(spec.width))
        layers.append(ACTIVATIONS[spec.activation]())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width_in = spec.width
    layers.append(nn.Linear(width_in, out_dim))
    return nn.Sequential(*layers)


def cnn(spec: CNNModelSpec, in_shape: tuple[int, ...], out_dim: int) -> nn.Module:
    if len(in_shape) != 3:
        raise ValueError(
            f"the cnn model needs image data (C, H, W); the data's samples have shape {tuple(in_shape)}: "
            "set trainable.data.shape to 'image' or [C, H, W]"
        )
    channels, height, width = in_shape
    layers: list[nn.Module] = []
    for block in range(spec.blocks):
        out_channels = spec.channels * 2**block
        layers.append(nn.Conv2d(channels, out_channels, spec.kernel_size, padding=spec.kernel_size // 2))
        if spec.batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(ACTIVATIONS[spec.activation]())
        if min(height, width) >= 2:  # pool while the image is at least 2x2
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers += [nn.Flatten(), nn.Linear(channels * height * width, spec.hidden), ACTIVATIONS[spec.activation]()]
    if spec.dropout > 0:
        layers.append(nn.Dropout(spec.dropout))
    layers.append(nn.Linear(spec.hidden, out_dim))
    return nn.Sequential(*layers)


def model_class(spec: ClassModelSpec) -> type[nn.Module]:
    cls = import_object(spec.path, "trainable.model.path")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)) and not callable(cls):
        raise TypeError(f"{spec.path} is not an nn.Module class")
    return cls


def build_model(
    spec: TorchTrainableSpec, in_shape: tuple[int, ...], out_dim: int, config: Mapping[str, Any]
) -> nn.Module:
    """The trial's model (on the CPU; the loop moves it)."""
    m = spec.model
    if isinstance(m, MLPModelSpec):
        return mlp(m, in_shape, out_dim)
    if isinstance(m, CNNModelSpec):
        return cnn(m, in_shape, out_dim)
    if isinstance(m, ClassModelSpec):
        model = model_class(m)(**m.args)
    elif isinstance(m, BuildModelSpec):
        model = import_object(m.function, "trainable.model.function")(dict(config))
    else:  # pragma: no cover - the spec union has no other member
        raise TypeError(f"unknown model spec {type(m).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"the model is a {type(model).__name__}; expected a torch.nn.Module")
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


