"""What a run leaves: summary.json (``summary``), storage on local disk or object stores
(``storage``), saved models (``export``), Pareto fronts (``pareto``), versions (``versions``).

The only package that reads an experiment directory back.
"""
