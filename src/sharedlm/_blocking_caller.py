"""Whether the caller of a call blocks a running event loop until the call returns (a sync call inside a loop).

Every layer that makes a call wait for something its own loop would give back (an in-flight slot in
:mod:`sharedlm._pacing`, a connection slot in :mod:`sharedlm._http11`) reads this: such a caller must not wait for it,
since its loop cannot run while it waits. It sits below them all, so the transport reads it without importing pacing.
"""

from __future__ import annotations

import contextvars

# Set for a call whose caller blocks a running event loop until it returns (a sync call made inside a loop): it takes
# its slot at once, over the limit if need be, since the slots that loop's own calls hold cannot come back while it
# waits. Each such caller blocks its whole loop, so a limit is passed by one call per blocked loop at most.
CALLER_BLOCKS_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("sharedlm_caller_blocks_loop", default=False)

__all__ = ["CALLER_BLOCKS_LOOP"]
