"""What a run leaves: summary.json (``summary``) with its typed records of the final steps
(``final``) and of scheduling (``scheduling``), storage on local disk or object stores
(``storage``), saved models (``export``), Pareto fronts (``pareto``), versions (``versions``).

The only package that reads an experiment directory back.
"""
