"""Checkpoints: model, optimiser, scheduler, epoch and every RNG state, to and from a directory.

Restoring puts back exactly what the next epoch depends on, so a trial resumed
from epoch k (PBT exploit, failure retry, experiment resume) computes the same
weights as one that never stopped (on CPU, at a fixed seed).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

STATE_FILE = "state.pt"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def snapshot(state: Any) -> Any:
    """A copy of a checkpoint state that training can no longer change: every tensor
    cloned to the CPU (detached), containers rebuilt; other values (numbers, strings,
    RNG tuples, numpy arrays from ``rng_state``) are kept as they are (never mutated in
    place by training). About a memcpy of the model and optimiser state."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {key: snapshot(value) for key, value in state.items()}
    if isinstance(state, list):
        return [snapshot(value) for value in state]
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return tuple(snapshot(value) for value in state)
    return state


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


def save(state: dict[str, Any], directory: str | Path) -> Path:
    path = Path(directory) / STATE_FILE
    torch.save(state, path)
    return path


def load(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {STATE_FILE} in checkpoint {directory}: not a raytuner torch checkpoint")
    # our own file: it holds RNG states (numpy arrays, tuples), not only tensors
    return torch.load(path, map_location="cpu", weights_only=False)
