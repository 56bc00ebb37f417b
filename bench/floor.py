"""The machine's own floor: how late a real-time thread that does nothing else sees its deadlines.

    python bench/floor.py [--minutes 1] [--every-ms 50] [--quiet] [--json]

One thread at the dispatcher's real-time priority sleeps until a millisecond before each deadline and
spins on the clock the rest, exactly as the dispatcher does, but with no GIL to share, no audio
callback and nothing to send; like a show, it keeps the CPUs out of slow idle states
(realtime.hold_cpu_wakeup_latency) unless --let-cpus-halt. Whatever lateness it sees is the operating system's and the
hypervisor's (a virtual CPU the host gives to another tenant stops dead, real-time or not), so no
program could fire cues more punctually on this machine at this time: read bench/timing.py's numbers
against it (bench/timing.py runs it alongside the show, so both see the same minutes). The other
core is kept busy, as in bench/timing.py, unless --quiet; --json prints each lateness in ns instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from showcontrol.realtime import DISPATCHER_PRIORITY, hold_cpu_wakeup_latency, raise_priority


def stolen_ms() -> float:
    """CPU time the hypervisor gave to other tenants so far, all CPUs (/proc/stat `steal`)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")


def meet_deadlines(count: int, every_ns: int) -> tuple[list[int], bool]:
    """Lateness (ns) at each deadline, and whether real-time priority was granted."""
    lateness: list[int] = []
    granted: list[bool] = []

    def run() -> None:
        granted.append(raise_priority(DISPATCHER_PRIORITY, warn=False))
        first = time.monotonic_ns() + 100_000_000
        for n in range(count):
            due = first + n * every_ns
            if (wait := due - 1_000_000 - time.monotonic_ns()) > 0:
                time.sleep(wait / 1e9)
            now = time.monotonic_ns()
            while now < due:
                now = time.monotonic_ns()
            lateness.append(now - due)

    thread = threading.Thread(target=run, name="floor")
    thread.start()
    thread.join()
    return lateness, granted[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--every-ms", type=float, default=50.0, help="time between deadlines")
    parser.add_argument("--quiet", action="store_true", help="leave the other core idle")
    parser.add_argument("--json", action="store_true", help="print the lateness of each deadline (ns) as JSON")
    parser.add_argument("--let-cpus-halt", action="store_true", help="do not hold the CPU wake-up latency as a show does")
    args = parser.parse_args()
    awake = None if args.let_cpus_halt else hold_cpu_wakeup_latency()
    count = int(args.minutes * 60_000 / args.every_ms)
    burner = None if args.quiet else subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        before = stolen_ms()
        lateness, realtime = meet_deadlines(count, int(args.every_ms * 1e6))
        stolen = stolen_ms() - before
    finally:
        if burner is not None:
            burner.kill()
        if awake is not None:
            os.close(awake)
    if args.json:
        print(json.dumps(lateness))
        return
    late_ms = np.array(lateness, dtype=np.float64) / 1e6
    p50, p99 = np.percentile(late_ms, [50, 99])
    print(
        f"{count} deadlines over {args.minutes:g} min, {'real-time' if realtime else 'NORMAL priority (real-time refused)'}, "
        f"other core {'idle' if args.quiet else 'busy'}, CPUs {'kept awake' if awake is not None else 'free to halt'}; milliseconds"
    )
    print(
        f"lateness p50 {p50:.3f}  p99 {p99:.3f}  max {late_ms.max():.3f}   "
        f"over 0.5 ms: {(late_ms > 0.5).sum()}  over 2 ms: {(late_ms > 2).sum()}"
    )
    print(f"CPU time stolen by other tenants of the VM meanwhile: {stolen:.0f} ms")


if __name__ == "__main__":
    main()
