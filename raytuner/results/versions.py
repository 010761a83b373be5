"""raytuner's version, and the versions of what a run used (recorded in summary.json).

Nothing imports the package root for the version: ``raytuner.__version__`` re-exports it.
"""

from __future__ import annotations

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """raytuner, Ray, scikit-learn and torch versions (those installed)."""
    from importlib import metadata

    out = {"raytuner": __version__}
    for dist in ("ray", "scikit-learn", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out
