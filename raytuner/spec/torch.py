"""The spec of the ``torch`` trainable: model, data, optimiser and training options.

Pure pydantic, no torch import: a spec is validated before Ray (or torch) starts.
Any field here can be tuned by a space entry at the same path, e.g.::

    space:
      model: {width: {type: int, low: 32, high: 256, log: true}}
      optimizer: {lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}}
      data: {batch_size: {type: choice, values: [32, 64, 128]}}

Top-level space keys that are not fields of this spec are passed in the config to
the user's ``build``/``load`` functions (and are an error when there are none).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytuner.spec.code import CodeRef

# loss names the torch trainable knows, and the task each implies (no torch needed here)
LOSS_NAMES = ("cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber", "bce_with_logits")
LOSS_TASKS = {"cross_entropy": "classification", "nll": "classification", "mse": "regression",
              "l1": "regression", "smooth_l1": "regression", "huber": "regression"}

Activation = Literal["relu", "gelu", "tanh", "silu", "leaky_relu", "elu", "sigmoid"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # fields PBT/PB2 may mutate: a clone loads its donor's checkpoint (weights, optimiser and
    # schedule state) and goes on with the new value; any other field changes the parameters'
    # shapes or is overwritten by the restored state (trainables.torch.tuning.mutation_refusal)
    pbt_mutable: ClassVar[frozenset[str]] = frozenset()


# -- model ----------------------------------------------------------------------


class MLPModelSpec(_Model):
    """A multi-layer perceptron; input and output sizes come from the data."""

    pbt_mutable: ClassVar[frozenset[str]] = frozenset({"activation", "dropout"})  # keep the shapes

    type: Literal["mlp"] = "mlp"
    depth: int = Field(2, ge=0, le=64, description="hidden layers (0: a linear model)")
    width: int = Field(64, ge=1, le=65536, description="units per hidden layer")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Activation = "relu"
    batch_norm: bool = False


class CNNModelSpec(_Model):
    """A small CNN for image data (C x H x W): conv blocks, then a dense head."""

    pbt_mutable: ClassVar[frozenset[str]] = frozenset({"activation", "dropout"})  # keep the shapes

    type: Literal["cnn"] = "cnn"
    channels: int = Field(16, ge=1, le=4096, description="channels of the first block (doubled per block)")
    blocks: int = Field(2, ge=1, le=8, description="conv blocks (conv, activation, 2x2 max-pool)")
    kernel_size: int = Field(3, ge=1, le=15)
    hidden: int = Field(64, ge=1, le=65536, description="units of the dense layer before the output")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Activation = "relu"
    batch_norm: bool = False

    @model_validator(mode="after")
    def _odd_kernel(self) -> "CNNModelSpec":
        if self.kernel_size % 2 == 0:
            raise ValueError(f"an odd kernel_size (got {self.kernel_size}); 'same' padding needs one")
        return self


class ClassModelSpec(_Model):
    """An ``nn.Module`` subclass by import path, built with ``args`` (tunable: space.model.args)."""

    type: Literal["class"] = "class"
    path: CodeRef = Field(examples=["torchvision.models.resnet18", "mypackage.nets:Net"])
    args: dict[str, Any] = Field(default_factory=dict, description="constructor arguments")


class BuildModelSpec(_Model):
    """A user function ``module:build(config) -> nn.Module``; it gets the trial's config."""

    type: Literal["build"] = "build"
    function: CodeRef = Field(examples=["mypackage.nets:build"])


ModelSpec = Annotated[
    Union[MLPModelSpec, CNNModelSpec, ClassModelSpec, BuildModelSpec], Field(discriminator="type")
]


# -- data -----------------------------------------------------------------------


class TorchDataSpec(_Model):
    """Bundled data, a CSV/Parquet file, or a user ``module:load(config) -> (train, val)``."""

    pbt_mutable: ClassVar[frozenset[str]] = frozenset({"batch_size", "drop_last", "eval_batch_size", "shuffle"})

    source: str | None = Field(
        None,
        description="'sklearn:NAME' (iris, digits, wine, breast_cancer, diabetes) or a .csv/.parquet file",
        examples=["sklearn:digits", "data/train.csv"],
    )
    load: CodeRef | None = Field(
        None, description="module:load(config) returning (train, val) torch Datasets"
    )
    target: str | None = Field(None, description="target column of a file")
    features: list[str] | None = Field(None, description="feature columns (default: all others)")
    task: Literal["classification", "regression"] | None = Field(
        None, description="default: the bundled dataset's, else from the loss"
    )
    shape: Literal["vector", "image"] | list[int] = Field(
        "vector",
        description="'vector', 'image' (digits as 1x8x8) or a shape [C, H, W] each row is reshaped to",
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="held-out share (stratified for classification)")
    subset: int | None = Field(None, ge=10, description="use at most this many rows (quick runs)")
    standardize: bool = Field(True, description="scale features by the training split's mean and std")
    batch_size: int = Field(64, ge=1, le=1_000_000)
    eval_batch_size: int = Field(1024, ge=1, le=1_000_000)
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes")
    pin_memory: bool | None = Field(None, description="default: on when training on CUDA")

    @model_validator(mode="after")
    def _one_source(self) -> "TorchDataSpec":
        if (self.source is None) == (self.load is None):
            raise ValueError("exactly one of 'source' (bundled or file) and 'load' (module:load)")
        if self.load is not None:
            for name in ("target", "features", "subset"):
                if getattr(self, name) is not None:
                    raise ValueError(f"'{name}' only for 'source' data (a load function returns Datasets)")
            if self.shape != "vector":
                raise ValueError("'shape' only for 'source' data (a load function returns Datasets)")
        if isinstance(self.shape, list) and (not 1 <= len(self.shape) <= 4 or min(self.shape) < 1):
            raise ValueError(f"shape: 1 to 4 positive sizes, e.g. [1, 8, 8] (got {self.shape})")
        return self


# -- optimiser ------------------------------------------------------------------


class HypergradientSpec(_Model):
    """Hypergradient descent (Baydin et al. 2018): the lr follows d loss / d lr online."""

    beta: float = Field(
        gt=0.0,
        description="the hypergradient learning rate; its scale depends on the model (the paper "
        "uses 1e-3 for SGD and 1e-7 for Adam; on the digits MLP 0.05 for SGD and 1e-5 for Adam work)",
    )
    min_lr: float = Field(0.0, ge=0.0, description="the lr never goes below this")


class OptimizerSpec(_Model):
    pbt_mutable: ClassVar[frozenset[str]] = frozenset({
        "alpha", "beta1", "beta2", "eps", "hypergradient.beta", "lr", "momentum", "nesterov", "weight_decay",
    })  # not name, fused: the restored optimiser state is that optimiser's

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="sgd and rmsprop")
    nesterov: bool = Field(False, description="sgd with momentum > 0")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="adam and adamw")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="adam and adamw")
    alpha: float = Field(0.99, ge=0.0, lt=1.0, description="rmsprop smoothing constant")
    eps: float = Field(1e-8, gt=0.0)
    hypergradient: HypergradientSpec | None = Field(None, description="sgd and adam only")
    fused: bool | None = Field(
        None,
        description="torch's fused kernel for sgd/adam/adamw (one kernel for all parameters: "
        "about 30% faster epochs for small models on CPU); default: on where torch has one for "
        "the device and no hypergradient is set; false: torch's default per-parameter step",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "OptimizerSpec":
        if self.momentum and self.name not in ("sgd", "rmsprop"):
            raise ValueError(f"momentum only for sgd and rmsprop (name is {self.name!r}; adam uses beta1)")
        if self.nesterov and (self.name != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov only for sgd with momentum > 0")
        if self.hypergradient is not None and self.name not in ("sgd", "adam"):
            raise ValueError(f"hypergradient only for sgd and adam (got {self.name!r})")
        if self.fused and (self.name == "rmsprop" or self.hypergradient is not None):
            raise ValueError("fused only for sgd, adam and adamw without hypergradient (torch has no fused "
                             "kernel for the others): leave it unset")
        return self


# -- learning-rate schedules ------------------------------------------------------


class NoSchedule(_Model):
    name: Literal["none"] = "none"


class StepSchedule(_Model):
    """Multiply the lr by gamma every step_size epochs."""

    name: Literal["step"] = "step"
    step_size: int = Field(10, ge=1)
    gamma: float = Field(0.1, gt=0.0, le=1.0)


class CosineSchedule(_Model):
    """Cosine annealing from the lr to eta_min over t_max epochs (default: all epochs)."""

    name: Literal["cosine"] = "cosine"
    t_max: int | None = Field(None, ge=1)
    eta_min: float = Field(0.0, ge=0.0)


class OneCycleSchedule(_Model):
    """One-cycle policy, stepped every batch; peaks at max_lr (default: the optimiser's lr)."""

    name: Literal["one_cycle"] = "one_cycle"
    max_lr: float | None = Field(None, gt=0.0)
    pct_start: float = Field(0.3, gt=0.0, lt=1.0)
    anneal: Literal["cos", "linear"] = "cos"
    div_factor: float = Field(25.0, gt=0.0)
    final_div_factor: float = Field(1e4, gt=0.0)


class PlateauSchedule(_Model):
    """Reduce the lr by factor when the validation loss stops improving for patience epochs."""

    name: Literal["plateau"] = "plateau"
    factor: float = Field(0.1, gt=0.0, lt=1.0)
    patience: int = Field(3, ge=0)
    threshold: float = Field(1e-4, ge=0.0)
    min_lr: float = Field(0.0, ge=0.0)


ScheduleSpec = Annotated[
    Union[NoSchedule, StepSchedule, CosineSchedule, OneCycleSchedule, PlateauSchedule],
    Field(discriminator="name"),
]


# -- training options -------------------------------------------------------------


class EarlyStoppingSpec(_Model):
    """Stop a trial when the monitored value has not improved for patience epochs."""

    pbt_mutable: ClassVar[frozenset[str]] = frozenset({"min_delta", "patience"})

    patience: int = Field(ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    monitor: str | None = Field(None, description="a reported metric (default: the experiment's metric)")


class PruningSpec(_Model):
    """Global magnitude pruning of Linear/Conv weights (torch.nn.utils.prune)."""

    sparsity: float = Field(ge=0.0, lt=1.0, description="share of weights set to zero")
    when: Literal["after", "during"] = Field(
        "after", description="after training (then finetune_epochs), or gradually during it"
    )
    start_epoch: int = Field(1, ge=1, description="'during': first epoch that prunes")
    end_epoch: int | None = Field(None, ge=1, description="'during': the epoch the full sparsity is reached (default: the last)")
    finetune_epochs: int = Field(0, ge=0, description="'after': epochs trained with the mask fixed")

    @model_validator(mode="after")
    def _fields_for_when(self) -> "PruningSpec":
        if self.when == "after" and (self.start_epoch != 1 or self.end_epoch is not None):
            raise ValueError("start_epoch/end_epoch only with when: during")
        if self.when == "during" and self.finetune_epochs:
            raise ValueError("finetune_epochs only with when: after")
        if self.end_epoch is not None and self.end_epoch < self.start_epoch:
            raise ValueError(f"end_epoch >= start_epoch (got {self.end_epoch} < {self.start_epoch})")
        return self


class TorchTrainableSpec(_Model):
    """A PyTorch model trained for a number of epochs, one report (and checkpoint) per epoch."""

    pbt_mutable: ClassVar[frozenset[str]] = frozenset({"checkpoint_every", "grad_clip", "loss", "overlap_reports"})

    type: Literal["torch"] = "torch"
    model: ModelSpec = Field(default_factory=MLPModelSpec)
    data: TorchDataSpec
    loss: CodeRef = Field(
        "auto",
        description="cross_entropy, nll, mse, l1, smooth_l1, huber, bce_with_logits, an import "
        "path of a loss class or function, or 'auto' (from the task)",
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=NoSchedule)
    epochs: int = Field(10, ge=1, le=100_000)
    grad_clip: float | None = Field(None, gt=0.0, description="clip the gradient norm to this")
    early_stopping: EarlyStoppingSpec | None = None
    pruning: PruningSpec | None = None
    amp: bool | Literal["bf16", "fp16"] = Field(
        False, description="mixed precision on CUDA (true: bf16 where supported, else fp16)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when the trial has GPUs (resources.gpu > 0)"
    )
    threads: int | None = Field(None, ge=1, description="torch threads (default: the trial's CPUs)")
    workers: int = Field(1, ge=1, le=1024, description="data-parallel workers (DDP through Ray Train)")
    checkpoint_every: int = Field(1, ge=1, description="save a checkpoint every N epochs (and at the end)")
    overlap_reports: bool = Field(
        True,
        description="train the next epoch while Ray Tune takes the last report (false: wait for it, "
        "like a plain tune.report loop); a trial Tune stops drops the epoch it was training",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed values merged into the config given to build/load functions"
    )
    train_step: str | None = Field(
        None,
        description="module:function(model, batch, ctx) -> loss tensor or {'loss': tensor, ...}: your "
        "training step; raytuner still zeroes, back-propagates (AMP scaler), clips and steps the "
        "optimiser unless the function sets optimizes = True (raytuner.trainables.torch.hooks)",
        examples=["mypkg.steps:mixup_step"],
    )
    eval_step: str | None = Field(
        None,
        description="module:function(model, batch, ctx) -> {name: batch mean}: replaces the built-in "
        "evaluation; the function declares what it returns as metrics = {name: 'min' | 'max'}",
        examples=["mypkg.steps:evaluate"],
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TorchTrainableSpec":
        if self.optimizer.hypergradient is not None and self.schedule.name != "none":
            raise ValueError(
                "a schedule together with optimizer.hypergradient: hypergradient descent "
                "adapts the lr itself; use one of them"
            )
        p = self.pruning
        if p is not None and p.when == "during" and p.end_epoch is not None and p.end_epoch > self.epochs:
            raise ValueError(f"pruning.end_epoch <= epochs (got {p.end_epoch} > {self.epochs})")
        return self

    def total_epochs(self) -> int:
        """Epochs a trial reports, fine-tuning after pruning included."""
        extra = self.pruning.finetune_epochs if self.pruning and self.pruning.when == "after" else 0
        return self.epochs + extra
