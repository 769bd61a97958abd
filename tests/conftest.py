"""Test-wide fixtures: every test starts with no shared LM and no sharedlm settings from the environment."""

from __future__ import annotations

import os

import pytest

# DSPy refreshes model prices from the network on first use; tests never touch the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

_ENV_PREFIXES = ("SHAREDLM_",)
_ENV_NAMES = ("MODEL_NAME", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(autouse=True)
def _reset_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Clear sharedlm's environment and process-wide singleton around each test."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    # What the engine learns about a deployment is remembered on disk: never in the user's cache, never shared.
    monkeypatch.setenv("SHAREDLM_STATE_DIR", str(tmp_path_factory.mktemp("sharedlm-state")))
    _reset()
    yield
    _reset()


def _reset() -> None:
    from sharedlm._singleton import reset_shared_lm

    reset_shared_lm()
