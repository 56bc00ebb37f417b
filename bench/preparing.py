"""Which step of making the next song ready holds the show's threads up, and for how long.

    python bench/preparing.py [--minutes 4] [--rounds 3] [--format wav|flac]

Opens a two-song show (bench/setlist.py's songs) on SDL's dummy driver, as `run` does (the interpreter's
switch interval, the collector frozen, the dispatcher at real-time priority), then makes its second song
ready in the background `--rounds` times, exactly as the set list does, while a probe thread at the
dispatcher's priority wakes every millisecond and measures how late it got going (the wake-up and the
GIL). Each step of the preparation is timed on its thread; each probe sample is put down to the step
running at its deadline. Prints, per step: its time, and the probe's lateness during it (p50 / p99 /
max), beside the probe's lateness with nothing preparing, measured in the same run. A step that
holds the GIL in one long C call shows as a max near its own length.
"""

from __future__ import annotations

import argparse
import functools
import gc
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))
from peers import UdpReceiver  # noqa: E402
from setlist import figures, write_show  # noqa: E402

import showcontrol.app.stem_maker as stem_maker_module  # noqa: E402
import showcontrol.app.version as version_module  # noqa: E402
import showcontrol.offline as offline_module  # noqa: E402
from showcontrol.app import RunOptions, ShowRunner  # noqa: E402
from showcontrol.load.show_file import load_show  # noqa: E402
from showcontrol.realtime import DISPATCHER_PRIORITY, background_priority, normal_priority, raise_priority  # noqa: E402

PROBE_PERIOD_NS = 1_000_000
Span = tuple[int, int, str]  # start ns, end ns, step


class Steps:
    """The preparing thread's steps as spans of monotonic time, innermost last."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._depth: list[str] = []

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name.startswith("prepare") or threading.current_thread().name.startswith("ThreadPool"):
                started = time.monotonic_ns()
                try:
                    return original(*args, **kwargs)
                finally:
                    self.spans.append((started, time.monotonic_ns(), label or name))
            return original(*args, **kwargs)

        setattr(owner, name, timed)

    def step_at(self, ns: int) -> str | None:
        """The innermost step running at `ns` (the shortest span holding it)."""
        holding = [span for span in self.spans if span[0] <= ns < span[1]]
        return min(holding, key=lambda span: span[1] - span[0])[2] if holding else None


class Probe(threading.Thread):
    """Wakes every millisecond at the dispatcher's priority; records (deadline ns, lateness ns)."""

    def __init__(self) -> None:
        super().__init__(name="probe", daemon=True)
        self.samples: list[tuple[int, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        raise_priority(DISPATCHER_PRIORITY, warn=False)
        deadline = time.monotonic_ns() + PROBE_PERIOD_NS
        while not self.stopping.is_set():
            wait = deadline - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            self.samples.append((deadline, time.monotonic_ns() - deadline))
            deadline = max(deadline + PROBE_PERIOD_NS, time.monotonic_ns() + PROBE_PERIOD_NS // 2)


def collections_timed(spans: list[Span]) -> None:
    """The collector's runs (any thread) as spans too: a full collection holds the GIL throughout."""
    began: dict[int, int] = {}

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[threading.get_ident()] = time.monotonic_ns()
        elif (started := began.pop(threading.get_ident(), None)) is not None:
            spans.append((started, time.monotonic_ns(), f"gc gen{info['generation']} ({threading.current_thread().name})"))

    gc.callbacks.append(callback)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("wav", "flac"), default="wav")
    parser.add_argument("--priority", choices=("background", "normal", "fifo1"), default="background", help="the preparing thread's")
    args = parser.parse_args()

    steps = Steps()
    steps.wrap(soundfile, "read", "decode (soundfile.read)")
    steps.wrap(np, "ascontiguousarray", "np.ascontiguousarray")
    steps.wrap(offline_module, "read_audio", "read_audio (rest)")
    steps.wrap(offline_module, "_tracks", "tracks: zeros, rest")
    steps.wrap(offline_module, "fit_channels", "fit_channels")
    steps.wrap(offline_module, "entry_exit_envelope", "entry_exit_envelope")
    steps.wrap(offline_module, "lay_track", "lay_track")
    steps.wrap(offline_module, "_synthesised_stems", "click and LTC stems")
    steps.wrap(offline_module, "build_stems", "build_stems (rest)")
    steps.wrap(stem_maker_module.StemMaker, "stems", "stems: the maker's process, and mapping")
    steps.wrap(stem_maker_module.StemMaker, "_taken", "stems: mapping (or reading) the files")
    steps.wrap(version_module, "dispatch_order", "dispatch order + messages")
    steps.wrap(version_module, "beat_states", "beat states")
    steps.wrap(version_module, "prepare_version", "prepare_version (rest)")
    steps.wrap(gc, "freeze", "gc.freeze")
    collections_timed(steps.spans)

    receiver = UdpReceiver()
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_show(write_show(Path(folder), 2, args.minutes, args.format, receiver.port))
        with ShowRunner(loaded, RunOptions(None, audio_driver="dummy", log_path=Path(folder) / "show.jsonl")) as runner:
            while runner.standby_job is None or not runner.standby_job.done:  # the runner's own preparation first
                time.sleep(0.05)
            probe = Probe()
            probe.start()
            quiet_until = time.monotonic_ns() + 3_000_000_000
            time.sleep(3)
            windows: list[tuple[int, int]] = []
            for _ in range(args.rounds):
                started = time.monotonic_ns()
                done = threading.Event()

                def work(done: threading.Event = done) -> None:
                    if args.priority == "background":
                        background_priority()
                    elif args.priority == "normal":
                        normal_priority()
                    else:
                        raise_priority(1)
                    runner._make(1, Fraction(1))
                    gc.freeze()
                    done.set()

                threading.Thread(target=work, name="prepare-probe", daemon=True).start()
                done.wait()
                windows.append((started, time.monotonic_ns()))
                time.sleep(0.5)
            probe.stopping.set()
            probe.join()
    receiver.close()

    quiet = [late / 1e6 for at, late in probe.samples if at < quiet_until]
    by_step: dict[str, list[float]] = {}
    for at, late in probe.samples:
        if any(start <= at < end for start, end in windows):
            by_step.setdefault(steps.step_at(at) or "(between steps)", []).append(late / 1e6)
    lengths: dict[str, list[float]] = {}
    for start, end, label in steps.spans:
        if any(w0 <= start < w1 for w0, w1 in windows):
            lengths.setdefault(label, []).append((end - start) / 1e6)
    print(f"preparing a {args.minutes:g}-min song ({args.format}) {args.rounds} times: {[round((e - s) / 1e9, 2) for s, e in windows]} s")
    print(f"probe lateness (ms), nothing preparing: {figures(quiet)}")
    print(f"{'step':40} {'each (ms): max':>15} {'total':>8}   probe lateness during it (ms)")
    for label in sorted(by_step.keys() | lengths.keys(), key=lambda key: -sum(lengths.get(key, [0]))):
        durations = lengths.get(label, [])
        print(f"{label:40} {max(durations, default=0):15.1f} {sum(durations):8.1f}   {figures(by_step.get(label, []))}")
    print("figures from a shared 2-core machine: noisy; compare the lines of the same run")


if __name__ == "__main__":
    main()
