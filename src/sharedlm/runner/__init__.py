"""The bulk runner: stream many input rows through one DSPy program on the shared LM.

- :func:`run_many` (sync, notebook-safe) and :func:`arun_many` (async generator) for Python code, their row
  options (concurrency, ids, retries, limit, ...) as keywords or as one :class:`RowOptions`;
- ``sharedlm run PROGRAM --input FILE --output FILE`` and ``sharedlm demo`` on the command line
  (:mod:`sharedlm.runner._command`).
"""

from sharedlm.runner._core import arun_many
from sharedlm.runner._options import RowOptions
from sharedlm.runner._results import RowError, RowResult, TokenUsage
from sharedlm.runner._sync import run_many

__all__ = ["RowError", "RowOptions", "RowResult", "TokenUsage", "arun_many", "run_many"]
