"""Beats placed where their notes start, not where the onset function peaks: synthetic recordings with known note starts."""

from __future__ import annotations

import numpy as np

from showcontrol.analysis.beats import FLUX_LEAD_SECONDS, attack_times, local_periods, pulse, refine, track_beats
from showcontrol.analysis.onsets import ANALYSIS_RATE, Onsets, attack_envelope, onset_curves

RATE = ANALYSIS_RATE


def note(frequency: float, seconds: float, attack_seconds: float, decay: float, partials: int, rng: np.random.Generator) -> np.ndarray:
    """A tone that swells from its first sample as (t / attack)², so most of it arrives late (a soundfont's plucked bass
    reaches half its peak 6-12 ms in, its piano 3-6 ms in), then decays."""
    t = np.arange(int(seconds * RATE)) / RATE
    ramp = np.clip(t / attack_seconds, 0, 1) ** 2
    tone = sum(np.sin(2 * np.pi * frequency * k * t + rng.uniform(0, 2 * np.pi)) / k**1.5 for k in range(1, partials + 1))
    return (ramp * np.exp(-t * decay) * tone).astype(np.float32)


def recording(starts: np.ndarray, kind: str) -> np.ndarray:
    """`soft`: a bass swelling over 15 ms under a piano-like tone swelling over 6 ms, ringing into the next beat, louder and
    softer from beat to beat; `clicks`: a noise burst per beat."""
    rng = np.random.default_rng(5)
    signal = np.zeros(int((starts[-1] + 1.0) * RATE), np.float32)
    for index, start in enumerate(starts):
        at = round(start * RATE)
        if kind == "clicks":
            sound = (rng.standard_normal(600) * np.exp(-np.arange(600) / 80) * 0.3).astype(np.float32)
        else:
            loudness = 0.6 + 0.4 * rng.random()
            bass = note((55.0, 73.4, 61.7, 82.4)[index // 4 % 4], 0.9, 0.015, 3.0, 6, rng)
            piano = note((220.0, 277.2, 329.6, 440.0)[index % 4], 0.9, 0.006, 5.0, 12, rng)
            sound = (loudness * (0.8 * bass + 0.25 * piano)).astype(np.float32)
        end = min(len(signal), at + len(sound))
        signal[at:end] += sound[: end - at]
    return signal + (rng.standard_normal(len(signal)) * 1e-4).astype(np.float32)  # a noise floor, as every recording has


def note_starts(bpm: float, beats: int, first: float = 0.7) -> np.ndarray:
    return first + np.arange(beats) * 60 / bpm


def nearest_errors(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Seconds from each true note start but the first and last (where a tracker may stop short) to the nearest beat found."""
    return np.array([found[np.argmin(np.abs(found - t))] - t for t in truth[1:-1]])


def flux_peaks(onsets: Onsets) -> np.ndarray:
    """The beats before the attack step: the tracker's flux peaks, in seconds."""
    periods, _, _ = local_periods(onsets, (60.0, 160.0), 96.0)
    return refine(onsets, track_beats(onsets, periods), periods) / onsets.frame_rate


def test_a_click_is_placed_at_its_first_sample() -> None:
    truth = note_starts(96.0, 32)
    tracked = pulse(onset_curves(recording(truth, "clicks")), (60.0, 160.0), 96.0)
    errors = nearest_errors(tracked.times, truth)
    assert np.max(np.abs(errors)) < 0.001, np.round(errors * 1000, 1)


def test_soft_attacks_are_placed_near_their_start_and_alike() -> None:
    """The flux peaks 2-8 ms into these notes, by how loud the bass is against the piano that beat; the attack step puts
    every beat near where its notes start (a third of the way up, in dB, of a swell that starts from nothing), and
    within 2 ms of each other."""
    truth = note_starts(96.0, 32)
    onsets = onset_curves(recording(truth, "soft"))
    before = nearest_errors(flux_peaks(onsets), truth)
    after = nearest_errors(pulse(onsets, (60.0, 160.0), 96.0).times, truth)
    assert np.ptp(before) > 0.005, np.round(before * 1000, 1)  # what the step corrects
    assert np.ptp(after) < 0.0025 and np.max(np.abs(after)) < 0.004, np.round(after * 1000, 1)


def test_where_nothing_attacks_the_flux_peaks_keep_their_constant_lead() -> None:
    """A held organ note (a slow tremolo, no attack anywhere): no typical attack to align to, so the beats stay
    a constant lead after the flux peaks."""
    t = np.arange(12 * RATE) / RATE
    organ = ((1 + 0.2 * np.sin(2 * np.pi * 1.5 * t)) * sum(np.sin(2 * np.pi * 220.0 * k * t) / k for k in range(1, 8)) * 0.1).astype(
        np.float32
    )
    onsets = onset_curves(organ)
    peaks = note_starts(90.0, 16)
    assert np.allclose(attack_times(onsets, peaks), peaks + FLUX_LEAD_SECONDS)


def test_the_attack_envelope_resolves_a_note_start_to_half_a_millisecond() -> None:
    signal = np.zeros(RATE, np.float32)
    signal[11025:] = np.sin(2 * np.pi * 3000 * np.arange(RATE - 11025) / RATE)
    envelope = attack_envelope(signal)
    assert int(np.argmax(envelope > envelope.max() - 10)) == 11025 // 11  # the block holding the first sample
