"""Real-time scheduling for the threads whose timing matters, as audio software does (JACK, PipeWire).

On a loaded 2-core machine a normal-priority dispatcher measured p99 lateness of 12-90 ms and worst
cases of 256 ms; with SCHED_FIFO alone, 4-6 ms (bench/timing.py). The rest was priority inversion
through the GIL: the dispatcher woke on time, then waited for the GIL held by one of our own
normal-priority threads that another program had preempted. So every thread of ours that takes the
GIL during a show runs real-time too, strictly below the dispatcher so none competes with it (at the
same priority, tried earlier, p99 rose to 20-28 ms): audio callback, then the network, show-log,
supervisor, audio-watch and set-list threads and the operator's. Measured: p99 0.36-0.57 ms, max 0.53-0.78 ms. Each policy
resets on fork, so programs we start (espeak-ng) run normally.

Except the MQTT network thread: real-time, it kept the CPU after each write while the broker, an
ordinary process that must forward the message, waited for one (a broker on the show machine is
the usual setup). bench/mqtt_path.py, other core busy: publish->receive p50 1.3-1.6 ms, p99 6-11 ms
real-time; 0.58 ms and 1.5 ms at normal priority. It holds the GIL only just after the dispatcher's
bursts, while the dispatcher sleeps, so the inversion above costs little there. Refusal (no privilege, no rtprio
limit) is fine: the show runs, with worse tails. SHOWCONTROL_NO_REALTIME=1 turns it off for comparisons,
with the CPU wake-up latency a show holds (hold_cpu_wakeup_latency) and its memory lock (lock_memory).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import re
import resource
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DISPATCHER_PRIORITY = 20
AUDIO_PRIORITY = 10  # SDL's audio thread, from its first callback
HELPER_PRIORITY = 5  # network, show log, supervisor, the operator's thread: below both


GIL_SWITCH_INTERVAL_S = 0.0005
CPU_WAKEUP_LATENCY = Path("/dev/cpu_dma_latency")  # Linux PM QoS: the longest wake-up from idle we accept, in us


def shorten_gil_switch_interval() -> None:
    """CPython makes a thread wait up to 5 ms for the GIL by default: far longer than a cue may be late.

    With 0.5 ms a dispatcher that wakes on time gets the interpreter within a fraction of a millisecond
    even while the network thread or the audio callback is busy.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def raise_priority(priority: int, warn: bool = True) -> bool:
    """Ask for SCHED_FIFO at `priority` for the calling thread (Linux: pid 0 is the caller); True if granted.

    Only the dispatcher warns when refused (once is enough); the audio callback must never log."""
    if os.environ.get("SHOWCONTROL_NO_REALTIME"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
        return True
    except (PermissionError, OSError, AttributeError) as error:
        if not warn:
            return False
        log.warning(
            "real-time priority refused (%s): cues run at normal priority and may be late by tens of ms on a busy "
            "machine; give this user rtprio in /etc/security/limits.d/ (see the README)",
            getattr(error, "strerror", None) or error,
        )
        return False


def hold_cpu_wakeup_latency(path: Path = CPU_WAKEUP_LATENCY) -> int | None:
    """Keep the CPUs out of idle states they are slow to leave, while the returned descriptor is open.

    A halted CPU must first wake before a thread can meet a deadline or the broker can forward a cue:
    from a deep C-state that is tens to hundreds of microseconds; on a virtual machine the host must
    schedule the halted virtual CPU again, which here took up to several milliseconds (traced: the
    broker, woken for a cue, waited 3-8 ms while its CPU sat idle). bench/floor.py, other core busy:
    p99 1.8-2.9 ms letting CPUs halt, 0.03-0.9 ms with this held. Audio and real-time setups do the
    same (cyclictest does by default, tuned's latency-performance profile); the price is power, as idle
    CPUs poll. The kernel drops the request when the descriptor closes, so a crash cannot leave it set.
    None (with a warning) where the device is missing or not writable by this user.
    """
    if os.environ.get("SHOWCONTROL_NO_REALTIME"):
        return None
    try:
        descriptor = os.open(path, os.O_WRONLY)
    except OSError as error:
        log.warning(
            "cannot keep the CPUs awake (%s: %s): cues may be late by milliseconds while a CPU wakes; "
            "give the audio group access to it (see the README)",
            path,
            error.strerror or error,
        )
        return None
    try:
        os.write(descriptor, struct.pack("i", 0))
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


MEMORY_LOCK = 1 | 2 | 4  # MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT (Linux 4.4+; these values on all but alpha, powerpc, sparc)
OTHER_LOCK_FLAGS = ("alpha", "ppc", "powerpc", "sparc")
CAP_IPC_LOCK = 14  # the capability that lifts RLIMIT_MEMLOCK
_memory = threading.Lock()
_memory_locks = 0  # the sessions holding the lock: the last one to close unlocks (munlockall is the process's)


def lock_memory() -> bool:
    """Keep every page the show has touched, or will, in RAM until `unlock_memory`, as JACK, Ardour and
    PipeWire (mem.mlock-all) do: under memory pressure the kernel otherwise drops pages that can be read
    back (the interpreter's and libraries' code, even without swap) and pages out the rest where there is
    swap, and the audio callback that next touches one waits for the disk: an audible gap, mid-song.

    MCL_ONFAULT locks pages as they are first touched instead of filling every mapping at once: a new
    thread's 8 MB stack is not written out in full while its creator holds the GIL the callback needs
    (the audio a song maps is loaded ahead instead: `keep_in_ram`). Only where the lock can be unlimited
    (CAP_IPC_LOCK, or `memlock unlimited` as Debian's jackd2 gives the audio group): under a finite limit every
    allocation past it would fail (mmap's EAGAIN), which a show must never meet. False where the lock is
    not taken (with a warning, but on an architecture whose flags differ); the show runs on."""
    global _memory_locks
    if os.environ.get("SHOWCONTROL_NO_REALTIME") or os.uname().machine.startswith(OTHER_LOCK_FLAGS):
        return False
    with _memory:
        if _memory_locks:
            _memory_locks += 1
            return True
        if (limit := _unlimited_lock()) is not None:
            log.warning(
                "the show's memory is not locked (this user may lock %d kB): under memory pressure a page the audio "
                "needs can be dropped and read back mid-song, a gap; give the user 'memlock unlimited' in "
                "/etc/security/limits.d/ (docs/operating.md)",
                limit // 1024,
            )
            return False
        try:
            failed = _libc().mlockall(MEMORY_LOCK) != 0
        except (OSError, AttributeError) as error:  # no C library to ask (a static interpreter)
            log.warning("the show's memory is not locked (%s): the show runs on", error)
            return False
        if failed:
            log.warning("the show's memory is not locked (mlockall: %s): the show runs on", os.strerror(ctypes.get_errno()))
            return False
        _memory_locks = 1
        return True


def unlock_memory() -> None:
    """Undo `lock_memory` (a show run inside a longer-lived process, as the tests do); the last one unlocks."""
    global _memory_locks
    with _memory:
        _memory_locks -= 1
        if not _memory_locks:
            _libc().munlockall()


def keep_in_ram(array: np.ndarray) -> None:
    """Where the show's memory is locked: load and lock `array`'s pages now (a song's audio mapped from
    the stem maker), on the calling thread, without the GIL (ctypes lets it go), so the audio callback's
    first touch of a page is not a fault that may wait for the disk. Nothing where it is not locked."""
    if _memory_locks:
        _libc().mlock(ctypes.c_void_p(array.ctypes.data), ctypes.c_size_t(array.nbytes))


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library this interpreter runs on (mlockall, munlockall, mlock), loaded once."""
    return ctypes.CDLL(None, use_errno=True)


def _unlimited_lock() -> int | None:
    """None where this process may lock without limit: none is set, it holds CAP_IPC_LOCK, or it may lift
    its limit (the hard limit is unlimited, or CAP_SYS_RESOURCE); else the limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY or _holds_lock_capability():
        return None
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        return soft
    return None


def _holds_lock_capability() -> bool:
    """CAP_IPC_LOCK, which lifts the lock limit, counted only in the first user namespace: the kernel checks
    it there, so the capabilities a container's own user namespace shows (rootless podman) do not lift it."""
    try:
        status = Path("/proc/self/status").read_text()
        first_namespace = Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return False
    found = re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M)
    return first_namespace and found is not None and bool(int(found.group(1), 16) >> CAP_IPC_LOCK & 1)


def normal_priority() -> None:
    """The calling thread back to ordinary scheduling (a thread inherits its creator's policy)."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


BACKGROUND_NICE = 19  # the lowest nice: below every thread of the show, also the ones that got no real-time policy


def background_priority() -> None:
    """The calling thread below every show thread: ordinary scheduling at the lowest nice (Linux keeps a
    nice per thread, and threads it starts inherit it). For work that takes seconds of CPU while a song
    plays (decoding, stretching and compiling the next song), which must never take a core from it."""
    normal_priority()
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


@contextlib.contextmanager
def helper_priority() -> Iterator[None]:
    """The calling thread at HELPER_PRIORITY for the block (the operator's thread while a song runs)."""
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    raised = raise_priority(HELPER_PRIORITY, warn=False)
    try:
        yield
    finally:
        if raised:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, before[0], before[1])


class FiringWindow:
    """The dispatcher's last moments before a deadline and its burst of sends, during which other
    threads of ours stand aside rather than take the GIL the dispatcher needs.

    Each send releases the GIL for its system call, and a thread that takes it then (the audio callback
    mixing, ~0.15 ms a buffer) holds the dispatcher's next send until it is done: traced, a third of the
    sends more than 0.5 ms late were waiting so. A window closes by itself at the time it was opened
    for, so a stuck dispatcher can never hold anyone up for longer.
    """

    POLL_S = 50e-6

    def __init__(self) -> None:
        self.closes_ns = 0  # monotonic ns; plain int reads and writes are atomic under the GIL

    def open_until(self, closes_ns: int) -> None:
        self.closes_ns = closes_ns

    def close(self) -> None:
        self.closes_ns = 0

    def stand_aside(self, at_most_ns: int) -> None:
        """While the window is open, wait with the GIL released, for at most `at_most_ns`."""
        until = time.monotonic_ns() + at_most_ns
        while time.monotonic_ns() < min(until, self.closes_ns):  # re-read: the dispatcher may close it early
            time.sleep(self.POLL_S)
