"""The Ray session a ``--backend ray`` run uses: join the user's cluster, reuse a running session, or start one.

Ray is an optional extra (``pip install 'sharedlm[ray]'``) and is imported only here, when a Ray run starts.

A Ray started here runs on this machine only and never leaves loopback:

- every Ray process binds and talks on 127.0.0.1. Ray resolves even ``_node_ip_address="127.0.0.1"`` to the
  address it reaches the internet from, unless its single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``)
  was set before ``import ray``; so Ray is imported, and started, inside :func:`loopback_environment`;
- usage statistics are off (``RAY_USAGE_STATS_ENABLED=0``). Ray's head process still asks the cloud
  metadata addresses (169.254.169.254, metadata.google.internal) which cloud it runs on, even with usage
  statistics off and the dashboard disabled, so Ray's processes are started with their HTTP(S) proxy set
  to a closed loopback port (loopback itself excluded): those look-ups fail at once without leaving the
  machine. The driver's own environment is restored right after the start, and each worker actor restores
  the driver's proxy settings before it builds the user's program (see :mod:`sharedlm.runner._ray._worker`);
- DSPy in the workers uses its bundled model metadata instead of fetching it (``LITELLM_LOCAL_MODEL_COST_MAP``);
- its files (sockets, logs, spilled objects) live under ``/tmp/ray``, and worker output is not copied to the
  driver's terminal (it would tear the progress display); it is in the session's ``logs`` directory.

A session a run started is shut down by :meth:`RaySession.close` (a joined cluster keeps running; the run only
disconnects); a session the process already had is left as it is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sharedlm._errors import UsageError

RAY_INSTALL_HINT = "pip install 'sharedlm[ray]'"
LOOPBACK = "127.0.0.1"
# Ray's own default, so `ray status` and the session logs are where Ray users look for them.
DEFAULT_RAY_TEMP_DIR = "/tmp/ray"
# Port 9 (discard) on loopback: nothing serves HTTP there, so a proxied request is refused at once, locally.
_CLOSED_LOOPBACK_PROXY = f"http://{LOOPBACK}:9"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY")
_NO_PROXY = f"{LOOPBACK},localhost,::1"
# What Ray's processes must see when this module starts a local Ray; see the module docstring.
_LOCAL_RAY_ENVIRONMENT: Mapping[str, str] = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    **{name: _CLOSED_LOOPBACK_PROXY for name in PROXY_VARIABLES if "no_" not in name.lower()},
    "no_proxy": _NO_PROXY,
    "NO_PROXY": _NO_PROXY,
}
_DEFAULT_ENVIRONMENT: Mapping[str, str] = {"LITELLM_LOCAL_MODEL_COST_MAP": "true"}


def ray_is_installed() -> bool:
    """Whether Ray can be imported here (without importing it)."""
    import importlib.util

    if "ray" in sys.modules:
        return sys.modules["ray"] is not None  # None: imports of ray are blocked
    return importlib.util.find_spec("ray") is not None


def require_ray() -> None:
    """Fail with a usage error naming what to install when Ray is missing."""
    if not ray_is_installed():
        raise UsageError(f"--backend ray needs Ray, which is not installed: {RAY_INSTALL_HINT}")


@contextlib.contextmanager
def loopback_environment() -> Iterator[dict[str, str | None]]:
    """Set the environment a local Ray must start in; restore the caller's environment on exit.

    Yields:
        The proxy variables as they were before (None: unset), for worker actors to restore.
    """
    names = [*_LOCAL_RAY_ENVIRONMENT, *_DEFAULT_ENVIRONMENT]
    saved = {name: os.environ.get(name) for name in names}
    try:
        os.environ.update(_LOCAL_RAY_ENVIRONMENT)
        for name, default in _DEFAULT_ENVIRONMENT.items():
            os.environ.setdefault(name, default)
        yield {name: saved[name] for name in PROXY_VARIABLES}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_ray() -> types.ModuleType:
    require_ray()
    import ray

    return ray


@dataclass(kw_only=True)
class RaySession:
    """The Ray session of one run.

    Args:
        ray: The imported ``ray`` module.
        address: The session's GCS address (``host:port``).
        owned: This process started the session, or connected to a cluster for this run: :meth:`close` shuts
            a started one down and disconnects from a joined one.
        driver_proxy_env: The driver's proxy variables (None: unset) that workers of a local session restore;
            empty for a joined or reused session.
    """

    ray: Any
    address: str
    owned: bool
    driver_proxy_env: dict[str, str | None]

    def __repr__(self) -> str:
        origin = "owned" if self.owned else "reused"
        state = "open" if self.ray.is_initialized() else "closed"
        return f"RaySession(address={self.address!r}, {origin}, {state})"

    def cpus(self) -> int:
        """Logical CPUs the session's cluster offers (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Shut a session this run started down, or disconnect from a cluster it joined; leave a reused one."""
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def _gcs_address(ray: Any) -> str:
    context = ray.get_runtime_context()
    address = getattr(context, "gcs_address", None)
    return str(address) if address else "unknown"


def start_local_ray(*, num_cpus: int | None = None, temp_dir: str = DEFAULT_RAY_TEMP_DIR) -> RaySession:
    """Start a Ray on this machine, bound to loopback only, and connect this process to it as its driver.

    Args:
        num_cpus: Logical CPUs Ray offers to workers; this machine's core count when None.
        temp_dir: Where Ray keeps its sockets, logs and spilled objects (must be absolute).
    """
    already_imported = "ray" in sys.modules
    with loopback_environment() as proxy_env:
        ray = _import_ray()
        if ray.is_initialized():
            return RaySession(ray=ray, address=_gcs_address(ray), owned=False, driver_proxy_env={})
        constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
        if already_imported and getattr(constants, "ENABLE_RAY_CLUSTER", False):
            raise UsageError(
                "ray was imported before sharedlm could keep a local Ray on loopback (127.0.0.1), and Ray would "
                "bind to this machine's network address instead. Either call ray.init() yourself before the run "
                "(sharedlm then uses that session), pass ray_address=/--ray-address of a running cluster, or set "
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing ray"
            )
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            dashboard_host=LOOPBACK,
            log_to_driver=False,
            configure_logging=True,
            logging_level="WARNING",
            _node_ip_address=LOOPBACK,
            _temp_dir=temp_dir,
        )
    return RaySession(ray=ray, address=_gcs_address(ray), owned=True, driver_proxy_env=proxy_env)


def open_ray_session(address: str | None = None, *, num_cpus: int | None = None) -> RaySession:
    """The session for a run: the running one, the cluster at ``address``, or a new local Ray.

    Args:
        address: A running cluster's address (``host:port`` of its head, or ``auto``), or None to use
            the session this process already has, else to start a local Ray on loopback.
        num_cpus: Logical CPUs of a local Ray started here; this machine's core count when None.
    """
    require_ray()
    # Ray is imported here only if it already was: a local Ray must be imported inside loopback_environment().
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        current = _gcs_address(ray)
        if address is not None and address not in (current, "auto"):
            raise UsageError(f"this process is already connected to Ray at {current}, not at --ray-address "
                             f"{address}; call ray.shutdown() first or drop --ray-address")
        return RaySession(ray=ray, address=current, owned=False, driver_proxy_env={})
    if address is None:
        return start_local_ray(num_cpus=num_cpus)
    if is_loopback_address(address):
        return _join_loopback_cluster(address)
    ray = _import_ray()
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=True, logging_level="WARNING")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot join the Ray cluster at --ray-address {address}: {exc}") from None
    return RaySession(ray=ray, address=_gcs_address(ray), owned=True, driver_proxy_env={})


def is_loopback_address(address: str) -> bool:
    """Whether a cluster address (``host:port``) names this machine's loopback.

    Args:
        address: The address given to ``--ray-address``.
    """
    import ipaddress

    host = address.rpartition(":")[0] if ":" in address else address
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _join_loopback_cluster(address: str) -> RaySession:
    # A cluster on loopback (its nodes started with node_ip_address=127.0.0.1): Ray, imported outside its
    # single-machine mode, rewrites 127.0.0.1 to this machine's network address and never reaches the head; so
    # the driver imports and joins it inside the loopback environment, as a local Ray is started.
    already_imported = "ray" in sys.modules
    with loopback_environment():
        ray = _import_ray()
        constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
        if already_imported and getattr(constants, "ENABLE_RAY_CLUSTER", False):
            raise UsageError(
                f"ray was imported before sharedlm could join the loopback cluster at --ray-address {address}, and "
                "Ray would look for it at this machine's network address instead; set "
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing ray, or call ray.init() yourself first"
            )
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=True, logging_level="WARNING",
                     _node_ip_address=LOOPBACK)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"cannot join the Ray cluster at --ray-address {address}: {exc}") from None
    return RaySession(ray=ray, address=_gcs_address(ray), owned=True, driver_proxy_env={})


__all__ = [
    "DEFAULT_RAY_TEMP_DIR",
    "LOOPBACK",
    "PROXY_VARIABLES",
    "RAY_INSTALL_HINT",
    "RaySession",
    "is_loopback_address",
    "loopback_environment",
    "open_ray_session",
    "ray_is_installed",
    "require_ray",
    "start_local_ray",
]
