"""Holding the CPU wake-up latency as a show does, through the kernel's real PM QoS device; and its memory lock."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, start_show, write_tone

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


def lock_is_unlimited_here() -> bool:
    """Root (CAP_IPC_LOCK), or a user whose RLIMIT_MEMLOCK is unlimited."""
    return resource.getrlimit(resource.RLIMIT_MEMLOCK)[0] == resource.RLIM_INFINITY or os.geteuid() == 0


def locked_kb(status: str) -> int:
    return int(re.search(r"^VmLck:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


LOCK_AND_TOUCH = """
import logging, resource, sys
from pathlib import Path
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from showcontrol.realtime import lock_memory, unlock_memory
if len(sys.argv) > 1:  # a finite limit, as an ordinary user has
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (int(sys.argv[1]), int(sys.argv[1])))
locked = lock_memory()
touched = bytearray(64 << 20)  # 64 MB allocated and written after the lock: locked as touched, or (under a limit) never refused
print("locked", locked, "during", Path("/proc/self/status").read_text().split("VmLck:")[1].split()[0])
unlock_memory()
print("after", Path("/proc/self/status").read_text().split("VmLck:")[1].split()[0])
"""


def test_the_memory_a_show_touches_stays_locked_in_ram_until_it_unlocks() -> None:
    if not lock_is_unlimited_here():
        pytest.skip("this user may lock only a limited amount of memory here (RLIMIT_MEMLOCK), so the show does not lock")
    done = subprocess.run([sys.executable, "-c", LOCK_AND_TOUCH], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words[:2] == ["locked", "True"]
    assert int(words[3]) >= 64 * 1024  # the 64 MB written after the lock, at least
    assert words[4:] == ["after", "0"]


def test_under_a_finite_lock_limit_the_show_does_not_lock_says_how_and_every_allocation_still_succeeds() -> None:
    """Locking future pages under a finite limit would make allocations past it fail: never taken, only advised."""
    drop = []
    if os.geteuid() == 0:  # root's CAP_IPC_LOCK ignores the limit: run without it, as an ordinary user
        drop = [
            shutil.which("setpriv") or pytest.skip("setpriv is needed to drop CAP_IPC_LOCK"),
            "--inh-caps=-ipc_lock",
            "--bounding-set=-ipc_lock",
        ]
    done = subprocess.run([*drop, sys.executable, "-c", LOCK_AND_TOUCH, str(8 << 20)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["locked", "False", "during", "0", "after", "0"]
    assert "not locked (this user may lock 8192 kB)" in done.stderr and "memlock unlimited" in done.stderr


def test_a_running_show_holds_its_memory_locked(tmp_path: Path) -> None:
    if not lock_is_unlimited_here():
        pytest.skip("this user may lock only a limited amount of memory here (RLIMIT_MEMLOCK), so the show does not lock")
    write_tone(tmp_path / "tone.wav", 20)
    show = tmp_path / "show.yaml"
    show.write_text("version: 1\nsongs:\n  - {id: tone, audio: tone.wav, tempo: [{bar: 1, bpm: 120}]}\n")
    process = start_show(show)
    try:
        deadline, locked = time.monotonic() + 60, 0
        while not locked and process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                locked = locked_kb(Path(f"/proc/{process.pid}/status").read_text())
            time.sleep(0.05)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert locked > 0
