"""Checkpoints: model, optimiser, scheduler, epoch and every RNG state, to and from a directory.

Restoring puts back exactly what the next epoch depends on, so a trial resumed
from epoch k (PBT exploit, failure retry, experiment resume) computes the same
weights as one that never stopped (on CPU, at a fixed seed).

A checkpoint is taken every epoch by default, so taking one is on the hot path: the
training thread only ``pack``s the state (its tensors copied into one flat CPU tensor
per dtype); a writer thread pickles the few objects left and writes the file.
"""

from __future__ import annotations

import array
import io
import math
import pickle
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch._utils import _flatten_dense_tensors

STATE_FILE = "state.pt"
FORMAT = "raytuner-packed-1"  # state.pt: a pickled Packed state (skeleton, layout, flat tensors' bytes)


def _python_rng() -> tuple[Any, ...]:
    """``random.getstate()`` with its 625 ints as one array of C unsigned ints: a checkpoint is
    taken every epoch, and as a tuple they were ~60% of the objects that ``pack``
    walks and ``torch.save`` pickles one by one (in the training thread, and under
    the GIL in the writer thread)."""
    version, internal, gauss = random.getstate()
    return version, array.array("I", internal), gauss


def _set_python_rng(state: tuple[Any, ...]) -> None:
    version, internal, gauss = state
    if not isinstance(internal, tuple):  # tuples: checkpoints written before the array form
        internal = tuple(internal.tolist())
    random.setstate((version, internal, gauss))


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": _python_rng(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    _set_python_rng(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class _Slot:
    """Where a tensor sat in a packed state (the index into ``Packed.layout``)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:
        return _Slot, (self.index,)


@dataclass
class Packed:
    """A checkpoint state that training can no longer change, in the form written to disk.

    ``skeleton`` is the state with every dense tensor replaced by a ``_Slot``; the tensors
    themselves are copied, flattened, into one CPU tensor per dtype (``flat``), and
    ``layout`` says where each one lies (dtype key, offset, shape, stride, requires_grad).
    Packing is one copy per dtype instead of one per tensor, and writing it pickles a
    handful of objects instead of ~15 per tensor: ``torch.save`` of the model and
    optimiser state_dicts pickles every tensor's metadata in Python, under the GIL, and a
    checkpoint every epoch costs the training thread that time even from a writer thread.
    """

    skeleton: Any
    flat: dict[str, torch.Tensor]
    layout: list[tuple[str, int, tuple[int, ...], tuple[int, ...], bool]]

    def unpack(self) -> Any:
        """The state as ``pack`` saw it; every tensor its own CPU copy, strides kept."""
        tensors = [_unflatten(self.flat[key], offset, size, stride, grad)
                   for key, offset, size, stride, grad in self.layout]
        return _fill(self.skeleton, tensors)


_ATOMS = frozenset({int, float, str, bool, type(None), bytes})


def _dense(value: torch.Tensor) -> bool:
    return type(value) is torch.Tensor and value.layout is torch.strided and not value.is_quantized


def pack(state: Any) -> Packed:
    """Copy a checkpoint state out of training's reach (see :class:`Packed`): dense tensors
    flattened into one CPU tensor per dtype, other tensors (sparse, quantized, subclasses)
    cloned to the CPU in place; numbers, strings, RNG tuples and arrays from
    ``rng_state`` are kept as they are (never mutated in place by training)."""
    tensors: list[torch.Tensor] = []

    def walk(value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMS:  # most of a state_dict's values: the fast way out
            return value
        if isinstance(value, torch.Tensor):
            if _dense(value):
                tensors.append(value)
                return _Slot(len(tensors) - 1)
            return value.detach().to("cpu", copy=True)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(walk(item) for item in value)
        return value

    skeleton = walk(state)
    groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
    for index, tensor in enumerate(tensors):
        groups.setdefault((tensor.dtype, tensor.device), []).append(index)
    flat: dict[str, torch.Tensor] = {}
    layout: list[Any] = [None] * len(tensors)
    with torch.no_grad():
        for (dtype, device), indices in groups.items():
            key = f"{dtype}@{device}".replace("torch.", "")
            group = [tensors[i] for i in indices]
            # one copy (and one transfer to the CPU) per dtype, the loop over tensors in C++;
            # of a single tensor it returns a view: cloned, the live tensor must not leak in
            joined = _flatten_dense_tensors(group) if len(group) > 1 else group[0].reshape(-1).clone()
            flat[key] = joined.to("cpu")
            offset = 0
            for i, t in zip(indices, group):
                layout[i] = (key, offset, tuple(t.shape), t.stride(), t.requires_grad)
                offset += t.numel()
    return Packed(skeleton, flat, layout)


def _unflatten(flat: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
               grad: bool) -> torch.Tensor:
    view = flat.narrow(0, offset, math.prod(size)).view(size)
    out = view.clone()
    if tuple(out.stride()) != tuple(stride):
        try:  # e.g. channels_last: the original memory format back
            out = torch.empty_strided(size, stride, dtype=flat.dtype).copy_(view)
        except RuntimeError:  # overlapping strides (expanded tensors): contiguous is as good
            pass
    return out.requires_grad_(grad)


def _fill(skeleton: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(skeleton, _Slot):
        return tensors[skeleton.index]
    if isinstance(skeleton, dict):
        return {key: _fill(item, tensors) for key, item in skeleton.items()}
    if isinstance(skeleton, list):
        return [_fill(item, tensors) for item in skeleton]
    if isinstance(skeleton, tuple) and not hasattr(skeleton, "_fields"):
        return tuple(_fill(item, tensors) for item in skeleton)
    return skeleton


class Background:
    """One job at a time in a background thread (checkpoint writes, Tune reports).

    ``submit`` first waits for the job in flight, so jobs run in order and at most one
    state snapshot waits in memory. A job that raises (SystemExit when Tune stops the
    trial, OSError on a full disk) sets ``failed()``; ``wait()`` re-raises it in the
    caller's thread, once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._raised: BaseException | None = None
        self._failed = threading.Event()

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(job, args), name=self.name, daemon=True)
        self._thread.start()

    def _run(self, job: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            job(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the training thread by wait()
            self._raised = exc
            self._failed.set()

    def failed(self) -> bool:
        return self._failed.is_set()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._raised is not None:
            raised, self._raised = self._raised, None
            raise raised


def save(state: dict[str, Any] | Packed, directory: str | Path) -> Path:
    """Write ``state`` (or its ``pack``) to ``directory``/state.pt: one pickle of the skeleton,
    the layout and each flat tensor's bytes (``torch.save`` of the same took ~10x the
    GIL-held time: its zip records, CRCs and per-object ``persistent_id``). Serialised in
    memory, then one ``write`` (the GIL is free while the bytes go to disk)."""
    packed = state if isinstance(state, Packed) else pack(state)
    flat = {key: (str(t.dtype).removeprefix("torch."), t.view(torch.uint8).numpy()) for key, t in packed.flat.items()}
    data = pickle.dumps({"format": FORMAT, "skeleton": packed.skeleton, "layout": packed.layout, "flat": flat},
                        protocol=5)
    path = Path(directory) / STATE_FILE
    with open(path, "wb") as f:
        f.write(data)
    return path


def load(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {STATE_FILE} in checkpoint {directory}: not a raytuner torch checkpoint")
    raw = path.read_bytes()
    if raw[:2] == b"PK":  # a torch.save zip file: written before the packed format, the state itself
        # our own file: it holds RNG states (numpy arrays, tuples), not only tensors
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    data = pickle.loads(raw)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a raytuner torch checkpoint (format {FORMAT!r})")
    flat = {key: torch.from_numpy(array).view(getattr(torch, dtype)) for key, (dtype, array) in data["flat"].items()}
    return Packed(data["skeleton"], flat, data["layout"]).unpack()
