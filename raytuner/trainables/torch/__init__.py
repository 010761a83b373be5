"""The ``torch`` trainable: PyTorch models tuned on CPUs and GPUs.

Modules: ``adapter`` (checks + Tune function), ``tuning`` (space paths -> spec),
``models``, ``data``, ``optim`` and ``hypergradient``, ``schedules``, ``pruning``,
``checkpoint``, ``devices``, ``report`` (sessions), ``loop`` (the epochs),
``trial`` (one worker) and ``ddp`` (several, through Ray Train). Only ``adapter``
and ``tuning`` load without torch; torch itself is imported when a trial needs it.
"""

from __future__ import annotations

from raytuner.trainables.torch.adapter import TorchTrainable

__all__ = ["TorchTrainable"]
