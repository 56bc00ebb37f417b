"""The audio clock: a delay-locked loop mapping frames delivered by the device to monotonic time.

After F. Adriaensen, "Using a DLL to filter time" (LAC 2005). Each audio callback reports the
total frames handed to the device so far and when it ran. Callback times jitter by milliseconds on a
loaded machine and the device's crystal runs fast or slow by up to hundreds of ppm; the loop follows
the crystal while ignoring the jitter, so `time_of_frame` is both smooth and right on average.
Pure: time is passed in, never read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A callback this far from where the loop expects it is a dropout (a hung sound server, an xrun), not
# jitter: the audio now leaves on a new timeline, so the loop starts over from it instead of taking
# seconds to slew there (0.1 Hz) while cues follow the old one. Normal jitter here is under 10 ms.
RESTART_AFTER_NS = 100_000_000


@dataclass(frozen=True, slots=True)
class ClockMap:
    """One consistent frames <-> monotonic-ns line, published whole so readers never see half an update."""

    n0: int
    t0: float
    n1: int
    t1: float

    def time_of_frame(self, frame: int) -> float:
        """Monotonic ns at which the device requests (not plays) `frame`; extrapolates beyond the period."""
        return self.t0 + (frame - self.n0) * (self.t1 - self.t0) / (self.n1 - self.n0)

    def frame_at(self, now_ns: float) -> float:
        return self.n0 + (now_ns - self.t0) * (self.n1 - self.n0) / (self.t1 - self.t0)


@dataclass
class DelayLockedLoop:
    """Second-order DLL over fixed-size periods.

    It locks fast with a wide loop for `settle_seconds`, then narrows to `bandwidth_hz`, which is
    what rejects scheduling jitter (0.1 Hz holds the mapping within ~0.1 ms of the crystal here).
    """

    sample_rate: int
    period_frames: int
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
    updates: int = 0

    def __post_init__(self) -> None:
        self._use_bandwidth(self.settle_bandwidth_hz)

    def _use_bandwidth(self, hz: float) -> None:
        omega = 2 * math.pi * hz * self.period_frames / self.sample_rate
        self._b = math.sqrt(2) * omega
        self._c = omega * omega

    @property
    def locked(self) -> bool:
        return self.updates > 0

    def update(self, frames_total: int, now_ns: int) -> None:
        """Feed one callback: `frames_total` frames had been requested before this one, at `now_ns`."""
        error = now_ns - self._t1
        if self.updates == 0 or frames_total != self._n1 or abs(error) > RESTART_AFTER_NS:
            self._restart(frames_total, now_ns)
            return
        self._t0 = self._t1
        self._t1 += self._b * error + self._e2
        self._e2 += self._c * error
        self._n0, self._n1 = self._n1, self._n1 + self.period_frames
        self.updates += 1
        if self.updates == int(self.settle_seconds * self.sample_rate / self.period_frames):
            self._use_bandwidth(self.bandwidth_hz)

    def _restart(self, frames_total: int, now_ns: int) -> None:
        """(Re)start from one observation: at the first callback, after frames were skipped, or after a dropout."""
        self._e2 = self.period_frames / self.sample_rate * 1e9
        self._t0 = float(now_ns)
        self._t1 = now_ns + self._e2
        self._n0, self._n1 = frames_total, frames_total + self.period_frames
        self.updates = 1
        self._use_bandwidth(self.settle_bandwidth_hz)

    @property
    def mapping(self) -> ClockMap:
        return ClockMap(self._n0, self._t0, self._n1, self._t1)

    def time_of_frame(self, frame: int) -> float:
        return self.mapping.time_of_frame(frame)

    def frame_at(self, now_ns: float) -> float:
        return self.mapping.frame_at(now_ns)

    @property
    def ratio(self) -> float:
        """Measured device rate over nominal: 1.0001 is a crystal 100 ppm fast."""
        return self.period_frames / self.sample_rate * 1e9 / self._e2
