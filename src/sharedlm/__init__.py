"""sharedlm: one shared, pooled, flow-controlled LM per process for concurrent DSPy workflows.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are private.
"""

from sharedlm._batch import BatchOptions
from sharedlm._errors import (
    AuthenticationError,
    CallTimeoutError,
    ConfigurationError,
    ConnectionFailedError,
    ContextTooLongError,
    FatalError,
    GuardError,
    InputError,
    MissingAPIKeyError,
    PoolTimeoutError,
    ProviderCallError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
    ResponseTooLargeError,
    RetriesExhaustedError,
    RetryableError,
    SharedLMClosedError,
    SharedLMError,
    SpendCapReachedError,
    UsageError,
    sharedlm_cause,
)
from sharedlm._gc import relaxed_gc
from sharedlm._guard import GuardWarning, guarded_call, install_guard
from sharedlm._module import SharedLMModule, bind_shared_lm
from sharedlm._settings import FlowSettings, SharedLMSettings
from sharedlm._singleton import configure, get_settings, get_shared_lm, reset_shared_lm, stats
from sharedlm._stats import EngineStats
from sharedlm._version import __version__
from sharedlm.runner import RowError, RowOptions, RowResult, TokenUsage, arun_many, run_many

__all__ = [
    "AuthenticationError",
    "BatchOptions",
    "CallTimeoutError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContextTooLongError",
    "EngineStats",
    "FatalError",
    "FlowSettings",
    "GuardError",
    "GuardWarning",
    "InputError",
    "MissingAPIKeyError",
    "PoolTimeoutError",
    "ProviderCallError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "RequestRejectedError",
    "ResponseTooLargeError",
    "RetriesExhaustedError",
    "RetryableError",
    "RowError",
    "RowOptions",
    "RowResult",
    "SharedLMClosedError",
    "SharedLMError",
    "SharedLMModule",
    "SharedLMSettings",
    "SpendCapReachedError",
    "TokenUsage",
    "UsageError",
    "__version__",
    "arun_many",
    "bind_shared_lm",
    "configure",
    "get_settings",
    "get_shared_lm",
    "guarded_call",
    "install_guard",
    "relaxed_gc",
    "reset_shared_lm",
    "run_many",
    "sharedlm_cause",
    "stats",
]
