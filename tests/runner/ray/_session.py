"""A local Ray for one test module: loopback only, with none of the shell's SHAREDLM_* settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from sharedlm.runner._ray._session import RaySession, start_local_ray


@contextlib.contextmanager
def local_ray(num_cpus: int) -> Iterator[RaySession]:
    """Start a local Ray with ``num_cpus`` logical CPUs (one per worker a test wants) and stop it at the end.

    Workers get the job's settings from the driver only, so the shell's ``SHAREDLM_*`` variables are kept out of
    Ray's processes.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SHAREDLM_")]:
            patch.delenv(name)
        session = start_local_ray(num_cpus=num_cpus)
    try:
        yield session
    finally:
        session.close()
