"""The Ray backend of the bulk runner (``--backend ray``, ``run_many(backend="ray")``).

- :mod:`~sharedlm.runner._ray._session`: starting, joining or reusing a Ray session (a local Ray on loopback);
- :mod:`~sharedlm.runner._ray._budget`: each worker's share of the job's in-flight cap and rate budgets;
- :mod:`~sharedlm.runner._ray._coordinator`: the job's in-flight cap held by one actor and leased to the workers
  in blocks (``RayPlan(shared_budget=True)``), so it follows the rows;
- :mod:`~sharedlm.runner._ray._program`: how a worker builds the program (a spec or a pickled instance);
- :mod:`~sharedlm.runner._ray._worker`: the worker actor, running chunks of rows with the local core;
- :mod:`~sharedlm.runner._ray._policy`: what happens to rows whose worker died, and to dead workers (pure,
  testable without Ray);
- :mod:`~sharedlm.runner._ray._runner`: the driver, streaming rows to workers and yielding their results.

Nothing here imports Ray at module level: it is imported when a Ray run starts.
"""
