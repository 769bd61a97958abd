"""Fixtures of the simulator tests: a running simulator and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from sharedlm.simulator import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator with default settings: answers at once, never fails."""
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp client."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session
