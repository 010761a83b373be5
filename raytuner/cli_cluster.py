from __future__ import annotations
from typing import Any
def add_cluster_commands(sub: Any, command: Any) -> None:
    return None
