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


IPC_LOCK, SETPCAP, SYS_RESOURCE = 14, 8, 24  # capability numbers


def in_the_first_user_namespace() -> bool:
    return Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]


def lock_can_be_unlimited() -> bool:
    """No limit, CAP_IPC_LOCK where the kernel counts it, or a limit a process here may lift."""
    if resource.getrlimit(resource.RLIMIT_MEMLOCK)[0] == resource.RLIM_INFINITY or (
        has_capability(IPC_LOCK) and in_the_first_user_namespace()
    ):
        return True
    lift = "import resource; resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))"
    return subprocess.run([sys.executable, "-c", lift], capture_output=True, timeout=60).returncode == 0


def has_capability(number: int) -> bool:
    status = Path("/proc/self/status").read_text()
    return bool(int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M).group(1), 16) >> number & 1)  # type: ignore[union-attr]


def locked_kb(status: str) -> int:
    return int(re.search(r"^VmLck:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


LOCK_AND_TOUCH = """
import logging, mmap, re, resource, sys
from pathlib import Path
import numpy as np
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from showcontrol.realtime import keep_in_ram, lock_memory, unlock_memory
def kb(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
if len(sys.argv) > 2:  # a finite limit this process cannot lift, as an ordinary user has
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (int(sys.argv[2]), int(sys.argv[2])))
locked = lock_memory()
locked_now = kb("VmLck")  # what was there before: locked at once (MCL_CURRENT)
resident = kb("VmRSS")
untouched = mmap.mmap(-1, 64 << 20)  # mapped after the lock, never touched: not brought into RAM (MCL_ONFAULT)
untouched_grew = kb("VmRSS") - resident
with open(sys.argv[1], "wb") as file:  # a song's audio as the stem maker hands it over: a mapped file
    file.truncate(32 << 20)
with open(sys.argv[1], "rb") as file:
    audio = np.frombuffer(mmap.mmap(file.fileno(), 32 << 20, access=mmap.ACCESS_READ), np.float32)
resident = kb("VmRSS")
keep_in_ram(audio)  # loaded now where memory is locked, so the callback's first touch is no fault
loaded = kb("VmRSS") - resident
touched = bytearray(64 << 20)  # allocated and written after the lock: never refused, even under a limit
print(locked, locked_now, untouched_grew, loaded)
if locked:
    unlock_memory()
print(kb("VmLck"))
"""


def locked_and_touched(folder: Path, *, limit: int | None = None, drop: tuple[str, ...] = ()) -> tuple[list[str], str]:
    command = [*drop, sys.executable, "-c", LOCK_AND_TOUCH, str(folder / "song.f32"), *([str(limit)] if limit else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(), done.stderr


def test_the_memory_a_show_touches_is_locked_in_ram_as_it_is_touched_and_its_songs_audio_ahead(tmp_path: Path) -> None:
    if not lock_can_be_unlimited():
        pytest.skip("a process here may not lift its memory lock limit (RLIMIT_MEMLOCK), so the show does not lock")
    (locked, locked_now, untouched_grew, loaded, after), _ = locked_and_touched(tmp_path)
    assert locked == "True"
    assert int(locked_now) > 0  # the pages already there
    assert int(untouched_grew) < 16 * 1024  # a mapping nobody touched stays out of RAM: no 64 MB filled in
    assert int(loaded) >= 30 * 1024  # the song's 32 MB loaded by keep_in_ram
    assert after == "0"


def test_under_a_lock_limit_it_cannot_lift_the_show_does_not_lock_says_how_and_every_allocation_succeeds(tmp_path: Path) -> None:
    """Locking future pages under a finite limit would make allocations past it fail: never taken, only advised."""
    hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
    limit = 8 << 20 if hard == resource.RLIM_INFINITY else min(8 << 20, hard)
    drop: tuple[str, ...] = ()
    if has_capability(IPC_LOCK) or has_capability(SYS_RESOURCE):  # root's: either lifts the limit; run without both
        if not (shutil.which("setpriv") and has_capability(SETPCAP)):  # to drop them from the bounding set
            pytest.skip("cannot run a process without CAP_IPC_LOCK and CAP_SYS_RESOURCE here (setpriv and CAP_SETPCAP needed)")
        drop = ("setpriv", "--inh-caps=-sys_resource,-ipc_lock", "--bounding-set=-sys_resource,-ipc_lock")
    words, said = locked_and_touched(tmp_path, limit=limit, drop=drop)
    assert words[0] == "False" and words[-1] == "0"
    assert int(words[3]) < 1024  # keep_in_ram did nothing: the memory is not locked
    assert f"not locked (this user may lock {limit // 1024} kB)" in said and "memlock unlimited" in said


def test_a_running_show_holds_its_memory_locked(tmp_path: Path) -> None:
    if not lock_can_be_unlimited():
        pytest.skip("a process here may not lift its memory lock limit (RLIMIT_MEMLOCK), so the show does not lock")
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
