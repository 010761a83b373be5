"""raytuner's version, and the versions of what a run used (recorded in summary.json).

Nothing imports the package root for the version: ``raytuner.__version__`` re-exports it.
"""

from __future__ import annotations

__version__ = "0.1.0"

_found: dict[str, str] | None = None  # read once per process: every summary write asks (a few ms each)


def versions() -> dict[str, str]:
    """raytuner, Ray, scikit-learn and torch versions (those installed), a fresh dict each call."""
    global _found
    if _found is None:
        from importlib import metadata

        found = {"raytuner": __version__}
        for dist in ("ray", "scikit-learn", "torch"):
            try:
                found[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
        _found = found
    return dict(_found)
