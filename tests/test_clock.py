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
    the audio that actually plays from the second callback after (the first could be jitter: its map
    is stale, and the cues wait), instead of slewing for seconds."""
    period_ns = 256 / 48000 * 1e9
    dll = DelayLockedLoop(48000, 256)
    for index in range(2000):  # settled on a steady device
        dll.update(index * 256, round(index * period_ns))
    hang_ns = 2_000_000_000
    dll.update(2000 * 256, round(2000 * period_ns + hang_ns))
    assert dll.mapping.stale_at(2000 * period_ns + hang_ns)  # the first callback after: where the audio went is not known yet
    for index in range(2001, 2005):
        dll.update(index * 256, round(index * period_ns + hang_ns))
        assert not dll.mapping.stale_at(index * period_ns + hang_ns)
        assert abs(dll.time_of_frame(index * 256) - (index * period_ns + hang_ns)) < 0.2e6


PERIOD = 256
RATE = 48000
FRAME_NS = 1e9 / RATE
BUFFER_FRAMES = 1024  # what the sound server holds ahead, as pipewire-pulse did here (21 ms)


def server_callbacks(
    seconds: float, stalls: dict[float, float], keeps_delay: bool = True, jitter_ms: float = 0.1, seed: int = 2
) -> tuple[list[tuple[int, int]], list[float]]:
    """Callbacks as a sound server makes them (measured through pipewire-pulse here): a burst that fills its
    buffer at the start, then one per period, each a little late. `stalls` stops the client at a time (s)
    for so long (s): the server plays out its buffer, and when the client comes back it bursts again;
    where `keeps_delay`, the audio plays on later by what the server went without (the timeline moves),
    else the burst catches up with the old timeline (the server skipped). Returns the callbacks (frames,
    ns) and, for each, the time (ns) at which a callback for its frames would have come on the audio's
    timeline with no jitter (the truth the loop must find)."""
    rng = np.random.default_rng(seed)
    start_ns = 5_000_000_000
    shift_ns = 0.0  # how much later the audio plays than it first did
    callbacks, truths = [], []
    frames, now = 0, float(start_ns)
    pending = sorted(stalls.items())
    while now < start_ns + seconds * 1e9:
        line_ns = start_ns + shift_ns + (frames - BUFFER_FRAMES) * FRAME_NS  # a steady callback for these frames
        if pending and now >= start_ns + pending[0][0] * 1e9:
            stall_ns = pending.pop(0)[1] * 1e9
            played_out_ns = line_ns + BUFFER_FRAMES * FRAME_NS  # the server's buffer runs dry here
            now += stall_ns
            if keeps_delay and now > played_out_ns:
                shift_ns += now - played_out_ns
            line_ns = start_ns + shift_ns + (frames - BUFFER_FRAMES) * FRAME_NS
        else:
            now = max(now + 0.05e6, line_ns + abs(rng.normal(0, jitter_ms * 1e6)))  # a burst while behind the line
        callbacks.append((frames, int(now)))
        truths.append(line_ns)
        frames += PERIOD
    return callbacks, truths


def errors_ms(callbacks: list[tuple[int, int]], truths: list[float]) -> np.ndarray:
    """At each callback, the mapping's error for the frames it asks for (what the cues of the period follow)."""
    dll = DelayLockedLoop(RATE, PERIOD)
    errors = []
    for (frames, now), truth in zip(callbacks, truths, strict=True):
        dll.update(frames, now)
        errors.append((dll.time_of_frame(frames) - truth) / 1e6)
    return np.array(errors)


def after(callbacks: list[tuple[int, int]], seconds: float) -> int:
    """The index of the first callback at or after `seconds` from the first."""
    first = callbacks[0][1]
    return next(i for i, (_, now) in enumerate(callbacks) if now - first >= seconds * 1e9)


def test_the_first_callbacks_of_a_stream_are_a_burst_and_the_clock_is_right_after_it() -> None:
    callbacks, truths = server_callbacks(5, {})
    errors = errors_ms(callbacks, truths)
    assert abs(errors[0]) > 10  # the first callback comes a buffer early: nothing tells yet
    assert np.max(np.abs(errors[after(callbacks, 0.05) :])) < 0.5  # within 50 ms, and from there on
    assert np.max(np.abs(errors[after(callbacks, 3) :])) < 0.3


@pytest.mark.parametrize("stall_ms", [5, 20, 50, 90, 200, 2000])
@pytest.mark.parametrize("keeps_delay", [True, False], ids=["delayed", "skipped"])
def test_after_a_stall_of_any_length_the_clock_is_on_the_audio_within_0_1_s(stall_ms: int, keeps_delay: bool) -> None:
    callbacks, truths = server_callbacks(20, {8.0: stall_ms / 1000}, keeps_delay)
    errors = errors_ms(callbacks, truths)
    resumed = after(callbacks, 8.0 + stall_ms / 1000)
    assert np.max(np.abs(errors[after(callbacks, 3) : resumed - 1])) < 0.3  # steady before
    assert np.max(np.abs(errors[after(callbacks, 8.1 + stall_ms / 1000) :])) < 0.5  # and within 0.1 s after, for good


def test_repeated_stalls_each_relock() -> None:
    stalls = {4.0: 0.05, 4.02: 0.09, 9.0: 0.2, 12.0: 0.03}
    callbacks, truths = server_callbacks(16, stalls)
    errors = errors_ms(callbacks, truths)
    for at, length in stalls.items():
        if at != 4.0:
            assert np.max(np.abs(errors[after(callbacks, at + length + 0.1) : after(callbacks, at + length + 2)])) < 0.5, at


def test_a_late_callback_that_comes_back_is_jitter_and_leaves_the_clock_alone() -> None:
    period_ns = PERIOD * FRAME_NS
    dll = DelayLockedLoop(RATE, PERIOD)
    for index in range(2000):
        dll.update(index * PERIOD, round(index * period_ns))
    before = dll.time_of_frame(2100 * PERIOD)
    dll.update(2000 * PERIOD, round(2000 * period_ns + 4e6))  # 4 ms late, once
    assert dll.time_of_frame(2000 * PERIOD) == pytest.approx(2000 * period_ns, abs=1e3)  # not taken on one callback
    for index in range(2001, 2010):
        dll.update(index * PERIOD, round(index * period_ns))
    assert not dll.relocking and dll.relocks == 0
    assert dll.time_of_frame(2100 * PERIOD) == pytest.approx(before, abs=1e3)


@pytest.mark.parametrize("stall_ms", [20, 50, 90, 200, 2000])
@pytest.mark.parametrize("keeps_delay", [True, False], ids=["delayed", "skipped"])
def test_a_map_that_is_not_stale_is_right_and_a_stall_makes_it_stale_until_the_audio_is_found(stall_ms: int, keeps_delay: bool) -> None:
    """What the scheduler relies on: cues wait while the map is stale, so a map not stale when a cue could
    go must be on the audio; and a stall makes it stale from two periods in (the cues due meanwhile wait)
    until the first callback after the burst says where the audio went."""
    callbacks, truths = server_callbacks(12, {8.0: stall_ms / 1000}, keeps_delay)
    dll = DelayLockedLoop(RATE, PERIOD)
    fresh_again_ns = stale_from_ns = None
    resumed = after(callbacks, 8.0 + stall_ms / 1000)
    for index, ((frames, now), truth) in enumerate(zip(callbacks, truths, strict=True)):
        dll.update(frames, now)
        mapping = dll.mapping
        if index == resumed - 1:  # the last callback before the stall
            stale_from_ns = mapping.stale_after_ns - now
        if index >= resumed and fresh_again_ns is None and not mapping.stale_at(now):
            fresh_again_ns = now - callbacks[resumed][1]
        if now - callbacks[0][1] > 1e9 and not mapping.stale_at(now):
            assert abs(mapping.time_of_frame(frames) - truth) < 2e6, (index, (now - callbacks[0][1]) / 1e9)
    assert stale_from_ns is not None and stale_from_ns <= 2 * PERIOD * FRAME_NS + 1e6
    settled = next(i for i in range(resumed + 1, len(callbacks)) if callbacks[i][1] - callbacks[i - 1][1] > PERIOD * FRAME_NS / 2)
    assert fresh_again_ns is not None and fresh_again_ns <= callbacks[settled][1] - callbacks[resumed][1]  # the burst's end


def test_a_driver_on_a_timer_of_its_own_never_goes_stale() -> None:
    """SDL's dummy driver lags its own clock by tens of ms on a loaded machine, with no audio to be late for."""
    dll = DelayLockedLoop(RATE, PERIOD, timed_by_the_audio=False)
    dll.update(0, 0)
    dll.update(PERIOD, round(PERIOD * FRAME_NS))
    assert not dll.mapping.stale_at(10e9)
    timed = DelayLockedLoop(RATE, PERIOD)
    timed.update(0, 0)
    timed.update(PERIOD, round(PERIOD * FRAME_NS))
    assert timed.mapping.stale_at(0.1e9) and not timed.mapping.stale_at(2 * PERIOD * FRAME_NS)
