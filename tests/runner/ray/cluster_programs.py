"""Programs the multi-node cluster tests run by file path (``cluster_programs.py:NodeTagged``).

Loaded by path in worker processes on every node, so nothing here imports the test suite.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import dspy

import sharedlm

# Rows a worker off the head node finishes before it signals the test and holds its rows until its node dies.
ROWS_BEFORE_SIGNAL = 20


class Answer(dspy.Signature):
    """Classify the sentiment of a product review."""

    text: str = dspy.InputField()
    sentiment: str = dspy.OutputField()


def node_id() -> str:
    """The Ray node this process runs on (Ray is imported in a worker actor's process)."""
    return str(sys.modules["ray"].get_runtime_context().get_node_id())


def on_head_node() -> bool:
    """Whether this process runs on the cluster's head node."""
    ray = sys.modules["ray"]
    mine = node_id()
    return any(node["NodeID"] == mine and "node:__internal_head__" in node["Resources"] for node in ray.nodes())


class NodeTagged(sharedlm.SharedLMModule):
    """Asks the shared LM about ``text`` and reports the node and process that ran the row.

    Off the head node, after :data:`ROWS_BEFORE_SIGNAL` rows, the worker tells the test (a line with its node id
    on 127.0.0.1:``port``) once, then holds every later row until its node is killed.
    """

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.answer = dspy.Predict(Answer)
        self.done = 0
        self.signalled = False
        self.head: bool | None = None  # known in a worker only: the driver builds the program too, without Ray

    async def aforward(self, text: str, port: int) -> dict[str, Any]:
        if self.head is None:
            self.head = on_head_node()
        if not self.head and self.done >= ROWS_BEFORE_SIGNAL:
            if not self.signalled:
                self.signalled = True
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"{node_id()}\n".encode())
                await writer.drain()
            await asyncio.Event().wait()  # until this node is killed
        prediction = await self.answer.acall(text=text)
        self.done += 1
        return {"node": node_id(), "pid": os.getpid(), "sentiment": prediction.sentiment}
