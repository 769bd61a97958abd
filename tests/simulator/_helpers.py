"""Small builders shared by the simulator tests."""

from __future__ import annotations

from typing import Any


def chat_body(content: str = "hello", **extra: Any) -> dict[str, Any]:
    """A minimal OpenAI chat completions request body."""
    return {"model": "sim-model", "messages": [{"role": "user", "content": content}], **extra}
