"""Batch mode: every LM call of a run waits on a provider batch (OpenAI, Anthropic, Gemini) instead of a socket.

:class:`BatchTransport` stands where the pooled transport stands under lm15, so each provider's wire format is
handled by lm15 unchanged; see :mod:`sharedlm._batch._transport`.
"""

from sharedlm._batch._apis import target_of
from sharedlm._batch._journal import Journal
from sharedlm._batch._options import BatchOptions
from sharedlm._batch._progress import BatchProgress
from sharedlm._batch._transport import CURRENT_ROW, BatchTransport, RowTag

__all__ = ["CURRENT_ROW", "BatchOptions", "BatchProgress", "BatchTransport", "Journal", "RowTag", "target_of"]
