"""bench/heard.py's clock of the mix: when the sound server mixed each captured frame, told from when the
capture file grew. The bench's verdict on every cue rests on it, so it is tested like the engine's code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "heard.py"
_spec = importlib.util.spec_from_file_location("heard", BENCH)
assert _spec is not None and _spec.loader is not None
heard = importlib.util.module_from_spec(_spec)
sys.modules["heard"] = heard  # its dataclasses look their module up
_spec.loader.exec_module(heard)

BLOCK = 256
HEADER = 44
CHANNELS = 2
ON_TIME_NS = 50_000  # a write this close to its mix counts as on time


def writes_of(offsets_ms: list[tuple[float, float]], seconds: float, seed: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """A capture's growth, one write per block: the sink's clock at each (start s, offset ms) piece of
    `offsets_ms`, most writes on time, one in five late by up to 5 ms (the recorder woken late), three
    in a row 9 ms late at 3.1 s (a late graph catching up, back to back, on the sink's own clock), and
    the last three 3 ms late (a piece at the end has fewer writes under it).
    Returned: the growth samples, each write's true mix time and how late it came."""
    random = np.random.default_rng(seed)
    blocks = int(seconds * heard.RATE / BLOCK)
    ends = np.arange(1, blocks + 1) * BLOCK  # frames captured once each write is done
    nominal_ns = ends * 1e9 / heard.RATE
    offset_ns = np.zeros(blocks)
    for start_s, offset in offsets_ms:
        offset_ns[nominal_ns >= start_s * 1e9] = offset * 1e6
    mixed = nominal_ns + offset_ns
    late = np.where(random.random(blocks) < 0.2, random.uniform(0.1e6, 5e6, blocks), random.uniform(0, ON_TIME_NS, blocks))
    burst = int(np.searchsorted(nominal_ns, 3.1e9))
    late[burst : burst + 3] = 9e6
    late[-3:] = 3e6
    growth = [(int(t), HEADER + int(f) * 4 * CHANNELS) for t, f in zip(mixed + late, ends, strict=True)]
    return growth, mixed, late


def test_the_mix_is_timed_right_on_both_sides_of_a_step_in_the_sinks_clock() -> None:
    # one cycle lost at 2 s (a late graph: the sink's clock steps up by a 256-frame quantum), 40 ms at 4 s
    growth, mixed, late = writes_of([(0, 2.0), (2.0, 2.0 + 256 / 48), (4.0, 42.0 + 256 / 48)], seconds=5, seed=7)
    _, mixed_ns, late_p99_ms = heard.capture_clock(growth, HEADER, CHANNELS)
    on_time = late <= ON_TIME_NS
    errors_ms = np.abs(mixed_ns - mixed)[on_time] / 1e6  # a running minimum: off for 0.25 s after each step
    assert errors_ms.max() <= ON_TIME_NS / 1e6, f"{int((errors_ms > 0.05).sum())} on-time writes off, worst {errors_ms.max():.2f} ms"
    assert 4.0 < late_p99_ms <= 5.0  # the recorder's lateness, as it was made


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_sink_is_one_line_under_the_writes_late_ones_included(seed: int) -> None:
    growth, mixed, _ = writes_of([(0, 3.5)], seconds=4, seed=seed)
    _, mixed_ns, _ = heard.capture_clock(growth, HEADER, CHANNELS)
    assert np.abs(mixed_ns - mixed).max() <= ON_TIME_NS  # the late burst at 3.1 s and the last writes too
