"""Host names are looked up once per burst: shared lookups, answers kept for their time, failures never kept."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from sharedlm._resolver import AddressInfo, HostResolver

pytestmark = pytest.mark.timeout(5)

LOOPBACK_INFO: AddressInfo = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class GatedLookup:
    """A lookup that counts its calls and answers (or fails) only when the test opens the gate."""

    def __init__(self, answer: list[AddressInfo] | None = None, error: OSError | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.gate = asyncio.Event()
        self.answer = [LOOPBACK_INFO] if answer is None else answer
        self.error = error

    async def __call__(self, host: str, port: int) -> list[AddressInfo]:
        self.calls.append((host, port))
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


async def test_concurrent_connections_to_one_name_share_one_lookup() -> None:
    lookup = GatedLookup()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    waiting = [asyncio.ensure_future(resolver.resolve("api.provider.test", 443)) for _ in range(50)]
    await asyncio.sleep(0)
    lookup.gate.set()
    answers = await asyncio.gather(*waiting)
    assert lookup.calls == [("api.provider.test", 443)]
    assert all(answer == [LOOPBACK_INFO] for answer in answers)


async def test_a_fresh_answer_is_reused_without_a_lookup() -> None:
    lookup, clock = GatedLookup(), FakeClock()
    lookup.gate.set()
    resolver = HostResolver(asyncio.get_running_loop(), ttl_s=30.0, clock=clock, lookup=lookup)
    await resolver.resolve("api.provider.test", 443)
    clock.now += 29.0
    await resolver.resolve("api.provider.test", 443)
    assert len(lookup.calls) == 1


async def test_an_answer_older_than_its_ttl_is_looked_up_again() -> None:
    lookup, clock = GatedLookup(), FakeClock()
    lookup.gate.set()
    resolver = HostResolver(asyncio.get_running_loop(), ttl_s=30.0, clock=clock, lookup=lookup)
    await resolver.resolve("api.provider.test", 443)
    clock.now += 30.0
    await resolver.resolve("api.provider.test", 443)
    assert len(lookup.calls) == 2


async def test_each_port_of_a_name_is_its_own_entry() -> None:
    lookup = GatedLookup()
    lookup.gate.set()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    await resolver.resolve("api.provider.test", 443)
    await resolver.resolve("api.provider.test", 8443)
    assert lookup.calls == [("api.provider.test", 443), ("api.provider.test", 8443)]


async def test_a_failed_lookup_reaches_every_waiter_and_is_not_kept() -> None:
    lookup = GatedLookup(error=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    waiting = [asyncio.ensure_future(resolver.resolve("gone.provider.test", 443)) for _ in range(3)]
    await asyncio.sleep(0)
    lookup.gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, socket.gaierror) for outcome in outcomes)
    lookup.error = None
    assert await resolver.resolve("gone.provider.test", 443) == [LOOPBACK_INFO]
    assert len(lookup.calls) == 2


async def test_a_lookup_that_finds_no_address_is_an_oserror() -> None:
    lookup = GatedLookup(answer=[])
    lookup.gate.set()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    with pytest.raises(OSError, match=re.escape("no address found for empty.provider.test")):
        await resolver.resolve("empty.provider.test", 443)


async def test_a_cancelled_caller_does_not_cancel_the_lookup_others_wait_for() -> None:
    lookup = GatedLookup()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    impatient = asyncio.ensure_future(resolver.resolve("api.provider.test", 443))
    patient = asyncio.ensure_future(resolver.resolve("api.provider.test", 443))
    await asyncio.sleep(0)
    impatient.cancel()
    await asyncio.gather(impatient, return_exceptions=True)
    lookup.gate.set()
    assert await patient == [LOOPBACK_INFO]
    assert len(lookup.calls) == 1


async def test_a_forgotten_name_is_looked_up_again() -> None:
    lookup = GatedLookup()
    lookup.gate.set()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    await resolver.resolve("api.provider.test", 443)
    resolver.forget("api.provider.test", 443)
    await resolver.resolve("api.provider.test", 443)
    assert len(lookup.calls) == 2


async def test_close_cancels_the_lookups_under_way() -> None:
    lookup = GatedLookup()
    resolver = HostResolver(asyncio.get_running_loop(), lookup=lookup)
    waiting = asyncio.ensure_future(resolver.resolve("api.provider.test", 443))
    await asyncio.sleep(0)
    resolver.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert "pending=0" in repr(resolver)
