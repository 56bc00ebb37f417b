"""Holding the CPU wake-up latency as a show does: through the kernel's real PM QoS device."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import pytest

from showcontrol.realtime import CPU_WAKEUP_LATENCY, hold_cpu_wakeup_latency


def current_limit_us() -> int:
    """What the kernel holds now: the strictest request of all open descriptors."""
    with open(CPU_WAKEUP_LATENCY, "rb") as device:
        return int(struct.unpack("i", device.read(4))[0])


def test_a_show_keeps_the_cpus_awake_while_it_holds_the_request_and_no_longer() -> None:
    if not os.access(CPU_WAKEUP_LATENCY, os.R_OK | os.W_OK):
        pytest.skip(f"{CPU_WAKEUP_LATENCY} is not readable and writable by this user here")
    before = current_limit_us()
    held = hold_cpu_wakeup_latency()
    assert held is not None
    try:
        assert current_limit_us() == 0
    finally:
        os.close(held)
    assert current_limit_us() == before


def test_a_machine_without_the_device_runs_the_show_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert hold_cpu_wakeup_latency(tmp_path / "no-such-device") is None
    assert "cannot keep the CPUs awake" in caplog.text and "README" in caplog.text
