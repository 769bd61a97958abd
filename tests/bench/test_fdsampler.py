"""The descriptor sampler sees descriptors opened while it runs."""

from __future__ import annotations

import os

import pytest

from sharedlm.bench._fdsampler import DescriptorSampler


def test_peak_counts_descriptors_opened_and_closed_while_sampling() -> None:
    sampler = DescriptorSampler(interval=0.005).start()
    before = sampler.sample()
    pipes = [os.pipe() for _ in range(20)]
    # The background thread's own sample (not one taken here) must see them: wait for two more of its samples.
    assert sampler.wait_for_samples(sampler.samples + 2, timeout=30)
    for read, write in pipes:
        os.close(read)
        os.close(write)
    peak = sampler.stop()
    assert peak >= before + 40
    assert sampler.sample() < peak


def test_restart_peak_forgets_an_earlier_peak() -> None:
    sampler = DescriptorSampler(interval=10)
    pipes = [os.pipe() for _ in range(10)]
    high = sampler.sample()
    for read, write in pipes:
        os.close(read)
        os.close(write)
    sampler.restart_peak()
    assert sampler.peak < high


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_a_sample_counts_what_a_listing_of_proc_self_fd_counts() -> None:
    sampler = DescriptorSampler(interval=10)
    pipes = [os.pipe() for _ in range(15)]
    try:
        listed = len(os.listdir("/proc/self/fd")) - 1  # the listing's own descriptor is not one of ours
        assert sampler.sample() == listed
    finally:
        for read, write in pipes:
            os.close(read)
            os.close(write)
