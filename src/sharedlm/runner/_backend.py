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


def check_backend(backend: str, *, workers: int | None, ray_address: str | None, flags: bool = False) -> None:
    """Fail with a usage error when the backend options do not fit together, or Ray is needed but missing.

    Args:
        backend: ``local`` or ``ray``.
        workers: Ray workers, or None.
        ray_address: The Ray cluster's address, or None.
        flags: Name the options as command-line flags in messages (else as keyword arguments).
    """
    def name(flag: str, keyword: str) -> str:
        return flag if flags else keyword

    if backend not in BACKENDS:
        raise UsageError(f"{name('--backend', 'backend')} must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "ray":
        given = [name(flag, keyword) for flag, keyword, value in (("--workers", "workers", workers),
                                                                 ("--ray-address", "ray_address", ray_address))
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
def open_ray_plan(recipe: ProgramRecipe, *, workers: int | None, ray_address: str | None) -> Iterator[RayPlan]:
    """Open the Ray session for a run and plan it on the driver's shared LM settings; close the session after.

    Args:
        recipe: How workers build the program.
        workers: Ray workers, or None for one per CPU of the cluster.
        ray_address: The cluster to join, or None for the session this process has, else a new local Ray.
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
                      configure_dspy_lm=dspy.settings.lm is shared_lm)
    finally:
        session.close()


__all__ = ["check_backend", "open_ray_plan"]
