"""The scikit-learn trainable: an estimator or pipeline by import path, scored by k-fold CV.

``trainable`` (the registry entry), ``setup`` (the frozen set-up shipped to each trial), ``estimator`` (one trial's estimator and splits),
``pipeline`` (Pipelines from a spec), ``steps`` (per-epoch / per-round fidelity trials),
``names`` (nested configs to ``step__param`` names).
"""
