"""A module nothing imports: the test Ray's workers preload it at boot (``start_test_ray``),
so a trial that finds it in ``sys.modules`` ran in a worker that preloaded (runner.warm_workers)."""
