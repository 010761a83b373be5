"""What happened to a trial that failed and was restored: one ``Restore`` per failure Ray
Tune recovered from, kept on the trial's record (``TrialRecord.restores``) in summary.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NODE_LOST = "node_lost"  # the node the trial ran on left the cluster
ERROR = "error"  # the trial raised (or its worker died) on a node that is still there


@dataclass
class Restore:
    failure: int  # Tune's failure count when it happened (1, 2, ...)
    cause: str  # NODE_LOST | ERROR
    from_node: str | None  # the node the trial last reported from before the failure
    to_node: str | None = None  # the node it reported from next (None: it never reported again)
    step: int | None = None  # the checkpoint's step it went on from (0: from the start; None: unknown)
    error: str | None = None  # the error's first line, when Ray recorded one

    @classmethod
    def from_data(cls, data: dict[str, Any] | "Restore") -> "Restore":
        return data if isinstance(data, Restore) else cls(**data)
