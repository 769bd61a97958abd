"""A local stand-in for hosted LLM providers that answers like one and fails like one.

It speaks the OpenAI Chat Completions, Gemini generateContent and Anthropic Messages APIs; answers valid
DSPy ChatAdapter/JSONAdapter output for the program that asked; and injects latency, concurrency caps,
request/token budgets (429 with an honest ``Retry-After``), 5xx answers, connection resets and hangs.
``GET /sim/stats`` shows what clients did from the server's side, per model too; single models can have limits
of their own (``--model-limit``, :class:`ModelLimits`).
"""

from sharedlm.simulator._background import BackgroundSimulator
from sharedlm.simulator._batch_store import BatchSettings
from sharedlm.simulator._process import SimulatorProcess
from sharedlm.simulator._server import Simulator
from sharedlm.simulator._settings import ModelLimits, SimulatorSettings
from sharedlm.simulator._stats import ModelStats, SimulatorStats

__all__ = ["BackgroundSimulator", "BatchSettings", "ModelLimits", "ModelStats", "Simulator", "SimulatorProcess",
           "SimulatorSettings", "SimulatorStats"]
