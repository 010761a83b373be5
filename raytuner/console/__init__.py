"""Every line and table a person reads: live progress (``progress``), the leaderboard and
summary (``summary``), early stopping and PBT lines (``scheduling``), refit/holdout/ensemble
lines (``final``)."""
