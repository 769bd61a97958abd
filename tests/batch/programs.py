"""Programs the batch-mode command-line tests run by file path (``tests/batch/programs.py:TwoSteps``).

They must not import anything from the test suite. Every prompt names the row's text, so no two calls of a run
share a prompt, and the LM they call has DSPy's cache off: a run makes exactly two LM calls per row.
"""

from __future__ import annotations

from typing import Any


class TwoSteps:
    """Asks about the row's text, then asks again with the first answer: Python between two LM calls.

    The LM is called directly (no adapter), so 5,000 rows stay cheap for the client under test.
    """

    def __init__(self, shared_lm: Any) -> None:
        self.lm = shared_lm.copy(cache=False)

    async def aforward(self, text: str) -> dict[str, str]:
        first = (await self.lm.acall(f"What is {text}?"))[0]
        second = (await self.lm.acall(f"{text} was said to be {first[:40]!r}; why?"))[0]
        return {"first": first, "second": second}
