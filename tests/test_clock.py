"""The DLL follows a skewed, jittery device clock: error after settling well under 0.2 ms."""

from __future__ import annotations

import numpy as np
import pytest

from showcontrol.audio.clock import DelayLockedLoop


def simulate(skew_ppm: float, jitter_ms: float, seconds: float, period: int = 256, rate: int = 48000, seed: int = 1):
    """Callbacks of a device whose true frame clock runs `skew_ppm` fast, observed with scheduling jitter."""
    rng = np.random.default_rng(seed)
    dll = DelayLockedLoop(rate, period)
    true_period_ns = period / rate * 1e9 / (1 + skew_ppm * 1e-6)
    start_ns = 1_000_000_000_000
    errors = []
    for index in range(int(seconds * rate / period)):
        frames = index * period
        true_ns = start_ns + index * true_period_ns
        observed = true_ns + abs(rng.normal(0, jitter_ms * 1e6)) + (rng.random() < 0.01) * rng.random() * 5e6  # late, and rare stalls
        dll.update(frames, int(observed))
        probe = frames + period // 2
        errors.append(dll.time_of_frame(probe) - (start_ns + probe / period * true_period_ns))
    return dll, np.array(errors)


@pytest.mark.parametrize("skew_ppm", [100.0, -100.0])
def test_mapping_error_after_settling_is_under_0_2_ms(skew_ppm: float) -> None:
    dll, errors = simulate(skew_ppm, jitter_ms=0.5, seconds=120)
    settled = errors[int(15 * 48000 / 256) :]  # after 15 s
    bias = np.median(settled)  # the mean callback lateness is a constant offset, calibrated away with the output latency
    assert np.max(np.abs(settled - bias)) < 0.2e6
    assert dll.ratio == pytest.approx(1 + skew_ppm * 1e-6, abs=20e-6)


def test_restarts_after_skipped_frames() -> None:
    dll = DelayLockedLoop(48000, 256)
    dll.update(0, 0)
    dll.update(256, 5_333_333)
    dll.update(256 * 10, 60_000_000)  # an xrun lost frames: start over from this observation
    assert dll.time_of_frame(256 * 10) == 60_000_000
    assert dll.frame_at(60_000_000 + 5_333_333) == pytest.approx(256 * 11, abs=0.01)


def test_a_dropout_restarts_the_loop_on_the_audio_that_follows() -> None:
    """A sound server that hangs for 2 s and resumes: the same frames come 2 s later. The loop follows
    the audio that actually plays from the first callback after, instead of slewing for seconds."""
    period_ns = 256 / 48000 * 1e9
    dll = DelayLockedLoop(48000, 256)
    for index in range(2000):  # settled on a steady device
        dll.update(index * 256, round(index * period_ns))
    hang_ns = 2_000_000_000
    for index in range(2000, 2005):
        dll.update(index * 256, round(index * period_ns + hang_ns))
        assert abs(dll.time_of_frame(index * 256) - (index * period_ns + hang_ns)) < 0.2e6
