"""A cheap upper-leaning estimate of the tokens one request will use, for booking a token budget.

No tokenizer: about four characters of English text make one token for the common tokenizers, and the
booking is corrected by a refund once the response reports the real usage. The estimate counts the text
the request sends (system prompt, messages, tool definitions) and the most the model may answer.
"""

from __future__ import annotations

import math
from typing import Any

from dspy import lm15

CHARS_PER_TOKEN = 4
# Booked for the answer when the request sets no max_tokens; the refund gives back what is not used.
DEFAULT_OUTPUT_TOKENS = 1024
# Images, audio, video and documents have no text to count; providers bill a few hundred to a few
# thousand tokens for each. Booking too much only delays until the refund; booking too little draws 429s.
MEDIA_PART_TOKENS = 1000

_MEDIA_TYPES = (lm15.ImagePart, lm15.AudioPart, lm15.VideoPart, lm15.DocumentPart, lm15.BinaryPart)


def estimate_tokens(request: lm15.Request) -> int:
    """Tokens to book for ``request``: ``ceil(characters / 4)`` of its text plus its largest answer.

    Args:
        request: The ``dspy.lm15.Request`` about to be sent.
    """
    chars = 0
    media = 0
    system = request.system
    if isinstance(system, str):
        chars += len(system)
    elif system:
        part_chars, part_media = _count_parts(system)
        chars += part_chars
        media += part_media
    for message in request.messages:
        part_chars, part_media = _count_parts(message.parts)
        chars += part_chars
        media += part_media
    for tool in request.tools:
        chars += len(tool.name)
        if isinstance(tool, lm15.FunctionTool):
            chars += len(tool.description or "") + len(str(tool.parameters))
    max_tokens = request.config.max_tokens
    output = DEFAULT_OUTPUT_TOKENS if max_tokens is None else max_tokens
    return math.ceil(chars / CHARS_PER_TOKEN) + media * MEDIA_PART_TOKENS + output


def _count_parts(parts: tuple[Any, ...]) -> tuple[int, int]:
    chars = 0
    media = 0
    for part in parts:
        text = getattr(part, "text", None)
        if isinstance(text, str):
            chars += len(text)
        elif isinstance(part, _MEDIA_TYPES):
            media += 1
        elif isinstance(part, lm15.ToolResultPart):
            inner_chars, inner_media = _count_parts(part.content)
            chars += inner_chars
            media += inner_media
        elif isinstance(part, lm15.ToolCallPart):
            chars += len(part.name) + len(str(part.input))
        elif isinstance(part, lm15.DataPart):
            chars += len(str(part.value))
    return chars, media


__all__ = ["CHARS_PER_TOKEN", "DEFAULT_OUTPUT_TOKENS", "MEDIA_PART_TOKENS", "estimate_tokens"]
