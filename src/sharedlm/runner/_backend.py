"""Where rows run: checking the backend options, and opening the Ray session and plan of a run.

Library code: :func:`~sharedlm.runner._sync.run_many` and the ``sharedlm run`` command both use it, and it
imports neither. Ray itself is imported only when the Ray backend is asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sharedlm._errors import UsageError
from sharedlm.runner._defaults import BACKENDS

if TYPE_CHECKING:
    from sharedlm.runner._ray._program import ProgramRecipe
    from sharedlm.runner._ray._runner import RayPlan


def check_backend(backend: str, *, workers: int | None, ray_address: str | None, flags: bool = False,
                  shared_budget: bool = False) -> None:
    """Fail with a usage error when the backend options do not fit together, or Ray is needed but missing.

    Args:
        backend: ``local`` or ``ray``.
        workers: Ray workers, or None.
        ray_address: The Ray cluster's address, or None.
        flags: Name the options as command-line flags in messages (else as keyword arguments).
        shared_budget: Whether the job's in-flight budget is leased to the workers by one coordinator.
    """
    def name(flag: str, keyword: str) -> str:
        return flag if flags else keyword

    if backend not in BACKENDS:
        raise UsageError(f"{name('--backend', 'backend')} must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not isinstance(shared_budget, bool):
        raise UsageError(f"{name('--shared-budget', 'shared_budget')} must be True or False, got {shared_budget!r}")
    if backend != "ray":
        given = [name(flag, keyword) for flag, keyword, value in (("--workers", "workers", workers),
                                                                 ("--ray-address", "ray_address", ray_address),
                                                                 ("--shared-budget", "shared_budget",
                                                                  True if shared_budget else None))
                 if value is not None]
        if given:
            ray_backend = name("--backend ray", "backend='ray'")
            raise UsageError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to {ray_backend}")
        return
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"{name('--workers', 'workers')} must be a whole number >= 1, got {workers!r}")
    from sharedlm.runner._ray._session import require_ray

    require_ray()


@contextlib.contextmanager
def open_ray_plan(recipe: ProgramRecipe, *, workers: int | None, ray_address: str | None,
                  shared_budget: bool = False) -> Iterator[RayPlan]:
    """Open the Ray session for a run and plan it on the driver's shared LM settings; close the session after.

    Args:
        recipe: How workers build the program.
        workers: Ray workers, or None for one per CPU of the cluster.
        ray_address: The cluster to join, or None for the session this process has, else a new local Ray.
        shared_budget: Lease the job's in-flight cap to the workers from one coordinator actor (it follows the
            rows) instead of giving each worker a fixed share (see :class:`~sharedlm.runner._ray._runner.RayPlan`).
    """
    import dspy

    from sharedlm._singleton import get_shared_lm, shared_engines
    from sharedlm.runner._ray._runner import RayPlan
    from sharedlm.runner._ray._session import open_ray_session

    shared_lm = get_shared_lm()
    settings = shared_engines()[1].settings
    session = open_ray_session(ray_address, num_cpus=max(os.cpu_count() or 1, workers or 0))
    try:
        yield RayPlan(session=session, workers=workers or session.cpus(), recipe=recipe, settings=settings,
                      configure_dspy_lm=dspy.settings.lm is shared_lm, shared_budget=shared_budget)
    finally:
        session.close()


__all__ = ["check_backend", "open_ray_plan"]
