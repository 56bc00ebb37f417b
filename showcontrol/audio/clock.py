"""The audio clock: a delay-locked loop mapping frames delivered by the device to monotonic time.

After F. Adriaensen, "Using a DLL to filter time" (LAC 2005). Each audio callback reports the
total frames handed to the device so far and when it ran. Callback times jitter by milliseconds on a
loaded machine and the device's crystal runs fast or slow by up to hundreds of ppm; the loop follows
the crystal while ignoring the jitter, so `time_of_frame` is both smooth and right on average.

A narrow loop must not be fed a dropout as if it were jitter: after a stall (a hung sound server, the
process stopped, an underrun), the audio leaves on a new timeline, and a 0.1 Hz loop would take many
seconds to slew there, overshooting. And a sound server does not call back evenly at a start or after a
stall: it asks for several buffers at once until its own buffer is full again (a burst), then settles
into its pace. So a callback far from where the loop expects it starts a *re-lock*: the loop stops
integrating, callbacks of the burst (coming faster than half a period apart) are left out, and the
offset of the audio's new timeline from the old one is measured on the callbacks that follow:
published as the median of the latest from the first one on (a period after the burst), and taken as
the median of `RELOCK_CALLBACKS` of them, when the loop resumes on the new timeline with the rate it
had measured. A single late callback (jitter, not a dropout) comes back to the old timeline, which is
then kept. The first callbacks of a stream are re-locked the same way, so the first cues after a start
are right.

Until the audio's new timeline is measured, no map tells when a frame will play: a map says how long it
holds (`ClockMap.stale_after_ns`, the next callback's time and the allowance past which the loop would
call it a dropout), and cues wait while it does not. Firing them on the old timeline sent the cues due
in a stall the moment the process ran again, up to 31 ms before their audio (bench/heard.py). A driver
that calls back on a timer of its own (SDL's dummy) has no audio to be late for: its maps never go stale.
Pure: time is passed in, never read.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

# A callback this far from where the loop expects it may be a dropout: re-lock. Scheduling jitter of the
# audio thread on a quiet machine is a few hundred microseconds; the threshold follows the jitter measured
# (`RELOCK_JITTER_FACTOR` times its mean), so a jittery device or driver does not re-lock at every callback.
RELOCK_AFTER_NS = 1_500_000
RELOCK_JITTER_FACTOR = 4.0
RELOCK_CALLBACKS = 6  # settled callbacks measured before the loop resumes (32 ms at 256 frames, 48 kHz)


@dataclass(frozen=True, slots=True)
class ClockMap:
    """One consistent frames <-> monotonic-ns line, published whole so readers never see half an update."""

    n0: int
    t0: float
    n1: int
    t1: float
    stale_after_ns: float = math.inf  # no callback by then: the audio may have stopped, the map may be wrong

    def stale_at(self, now_ns: float) -> bool:
        """Whether the map no longer tells when the audio plays (its callback overdue): cues wait for the next."""
        return now_ns > self.stale_after_ns

    def time_of_frame(self, frame: int) -> float:
        """Monotonic ns at which the device requests (not plays) `frame`; extrapolates beyond the period."""
        return self.t0 + (frame - self.n0) * (self.t1 - self.t0) / (self.n1 - self.n0)

    def frame_at(self, now_ns: float) -> float:
        return self.n0 + (now_ns - self.t0) * (self.n1 - self.n0) / (self.t1 - self.t0)


@dataclass
class Relock:
    """Measuring where the audio's timeline went, relative to the loop's held prediction."""

    last_ns: int  # when the latest callback came, to tell a burst
    settled: list[float] = field(default_factory=list)  # offsets of the callbacks after the burst

    def shift_ns(self) -> float:
        """The offset to publish now: the median of the latest settled ones, once one tells it (one late
        callback that comes back is the old timeline), where it is more than jitter. Before that, none: after
        a real stall the old timeline's map is stale already, and holds the cues until a callback settles."""
        recent = self.settled[-RELOCK_CALLBACKS:]
        shift = statistics.median(recent) if recent else 0.0
        return shift if abs(shift) > RELOCK_AFTER_NS else 0.0


@dataclass
class DelayLockedLoop:
    """Second-order DLL over fixed-size periods, re-locked after a dropout.

    It locks fast with a wide loop for `settle_seconds`, then narrows to `bandwidth_hz`, which is
    what rejects scheduling jitter (0.1 Hz holds the mapping within ~0.1 ms of the crystal here).
    """

    sample_rate: int
    period_frames: int
    timed_by_the_audio: bool = True  # False: a driver calling back on a timer of its own (SDL's dummy): never stale
    bandwidth_hz: float = 0.1
    settle_bandwidth_hz: float = 1.0
    settle_seconds: float = 2.0
    _b: float = 0.0
    _c: float = 0.0
    _t0: float = 0.0  # filtered time (ns) at which frame _n0 was requested
    _t1: float = 0.0  # predicted time of the next period
    _e2: float = 0.0  # filtered period length (ns)
    _n0: int = 0
    _n1: int = 0
    _jitter_ns: float = 0.0  # mean |error| of the callbacks the loop took
    _settling: int = 0  # loop updates left on the wide bandwidth
    _relock: Relock | None = None
    updates: int = 0
    relocks: int = 0  # how many times the audio's timeline moved (dropouts), for reports and tests

    def __post_init__(self) -> None:
        self._use_bandwidth(self.settle_bandwidth_hz)

    def _use_bandwidth(self, hz: float) -> None:
        omega = 2 * math.pi * hz * self.period_frames / self.sample_rate
        self._b = math.sqrt(2) * omega
        self._c = omega * omega

    @property
    def locked(self) -> bool:
        return self.updates > 0

    @property
    def relocking(self) -> bool:
        return self._relock is not None

    def update(self, frames_total: int, now_ns: int) -> None:
        """Feed one callback: `frames_total` frames had been requested before this one, at `now_ns`."""
        if self.updates == 0 or frames_total != self._n1:
            self._restart(frames_total, now_ns)
            return
        error = now_ns - self._t1
        self._advance()
        if self._relock is not None:
            self._measure(self._relock, error, now_ns)
        elif abs(error) > max(RELOCK_AFTER_NS, RELOCK_JITTER_FACTOR * self._jitter_ns):
            self._relock = Relock(now_ns)
        else:
            self._filter(error)

    def _advance(self) -> None:
        """One period on: the prediction becomes the period's start."""
        self._t0 = self._t1
        self._t1 += self._e2
        self._n0, self._n1 = self._n1, self._n1 + self.period_frames
        self.updates += 1

    def _filter(self, error: float) -> None:
        self._t1 += self._b * error
        self._e2 += self._c * error
        self._jitter_ns += (abs(error) - self._jitter_ns) / 64
        if self._settling > 0:
            self._settling -= 1
            if self._settling == 0:
                self._use_bandwidth(self.bandwidth_hz)

    def _measure(self, relock: Relock, error: float, now_ns: int) -> None:
        """A callback during a re-lock: `error` is its offset from the held prediction."""
        in_burst = now_ns - relock.last_ns < self._e2 / 2
        relock.last_ns = now_ns
        if in_burst:
            return
        relock.settled.append(error)
        if len(relock.settled) < RELOCK_CALLBACKS:
            return
        shift = statistics.median(relock.settled[-RELOCK_CALLBACKS:])
        self._relock = None
        if abs(shift) > RELOCK_AFTER_NS:  # the timeline moved: carry on from where it went (less is the loop's to follow)
            self._t0 += shift
            self._t1 += shift
            self.relocks += 1

    def _restart(self, frames_total: int, now_ns: int) -> None:
        """(Re)start from one observation: at the first callback, or after frames were skipped. The
        callbacks that follow are a burst and then the device's pace: re-lock on them."""
        self._e2 = self.period_frames / self.sample_rate * 1e9
        self._t0 = float(now_ns)
        self._t1 = now_ns + self._e2
        self._n0, self._n1 = frames_total, frames_total + self.period_frames
        self.updates = 1
        self._jitter_ns = 0.0
        self._settling = int(self.settle_seconds * self.sample_rate / self.period_frames)
        self._use_bandwidth(self.settle_bandwidth_hz)
        self._relock = Relock(now_ns)

    @property
    def mapping(self) -> ClockMap:
        shift = self._relock.shift_ns() if self._relock is not None else 0.0
        t1 = self._t1 + shift
        # The next callback is late past this: a dropout (the loop's own threshold), or at least a period.
        allowance = max(RELOCK_AFTER_NS, RELOCK_JITTER_FACTOR * self._jitter_ns, self._e2)
        return ClockMap(self._n0, self._t0 + shift, self._n1, t1, t1 + allowance if self.timed_by_the_audio else math.inf)

    def time_of_frame(self, frame: int) -> float:
        return self.mapping.time_of_frame(frame)

    def frame_at(self, now_ns: float) -> float:
        return self.mapping.frame_at(now_ns)

    @property
    def ratio(self) -> float:
        """Measured device rate over nominal: 1.0001 is a crystal 100 ppm fast."""
        return self.period_frames / self.sample_rate * 1e9 / self._e2
