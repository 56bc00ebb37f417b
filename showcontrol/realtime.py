"""Real-time scheduling for the threads whose timing matters, as audio software does (JACK, PipeWire).

On a loaded 2-core machine a normal-priority dispatcher measured p99 lateness of 12-90 ms and worst
cases of 256 ms; with SCHED_FIFO, 0.1-2 ms (bench/timing.py). Only the dispatcher gets it: giving
every thread real-time priority (tried) made them compete with it and p99 rose to 20-28 ms. Refusal (no privilege, no rtprio limit)
is fine: the show runs, with worse tails. SHOWCONTROL_NO_REALTIME=1 turns it off for comparisons.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

DISPATCHER_PRIORITY = 20


GIL_SWITCH_INTERVAL_S = 0.0005


def shorten_gil_switch_interval() -> None:
    """CPython makes a thread wait up to 5 ms for the GIL by default: far longer than a cue may be late.

    With 0.5 ms a dispatcher that wakes on time gets the interpreter within a fraction of a millisecond
    even while the network thread or the audio callback is busy.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def raise_priority(priority: int) -> bool:
    """Ask for SCHED_FIFO at `priority` for the calling thread (Linux: pid 0 is the caller); True if granted."""
    if os.environ.get("SHOWCONTROL_NO_REALTIME"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (PermissionError, OSError, AttributeError) as error:
        log.warning(
            "real-time priority refused (%s): cues run at normal priority and may be late by tens of ms on a busy "
            "machine; give this user rtprio in /etc/security/limits.d/ (see the README)",
            getattr(error, "strerror", None) or error,
        )
        return False
