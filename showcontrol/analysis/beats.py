"""Beat tracking: the pulse's period, frame by frame, then the beats that best fit both the onsets and that period.

Ellis's dynamic programme ("Beat tracking by dynamic programming", JNMR 2007, the method of librosa's
`beat_track`), with one change that a live recording needs: the period it expects is the local one,
measured by autocorrelation in overlapping windows, so the beats follow tempo changes and drift instead
of being pulled towards one tempo for the whole song. Each beat is then moved to the nearest peak of
the flux, between frames, and from there to where its notes start (`attack_times`): the flux peaks where
an attack's bulk arrives, a few milliseconds before a click's first sample but 5-15 ms after a plucked
bass or a soft piano starts, so a constant lead would leave a drumless recording's beats late.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from showcontrol.analysis.onsets import Curve, Onsets

WINDOW_SECONDS = 8.0
WINDOW_STEP_SECONDS = 1.0
TIGHTNESS = 200.0  # how strongly a beat interval is held to the local period (librosa's default is 100)
PRIOR_OCTAVES = 0.9  # width of the preference for ~110 BPM when nothing else decides between half and double
FLUX_LEAD_SECONDS = 0.004  # where no attack is heard (a pad): the flux peaks about this long before a note's first sample
ATTACK_REACH_SECONDS = 0.010  # how far the attack alignment may move a beat from its flux peak
ATTACK_WINDOW_SECONDS = (-0.030, 0.020)  # around a beat, where its attack is compared with the recording's typical one
ATTACK_BEFORE_SECONDS = 0.015  # the level before the window: what was still ringing
ATTACK_ROUNDS = 3  # align to the typical attack, measure it again from the aligned beats, align again
ATTACK_MIN_RISE_DB = 6.0  # a typical attack rising less than this is none (pads, a held organ, whose waveform alone
# makes a half-millisecond envelope waver by ±4 dB); a soft piano's rises 8-10 dB, a drum's 20-27 dB
ATTACK_START = 0.3  # a note starts where its attack is this far up, in dB: a drum's rise is so steep that it hardly matters,
# a soft piano's is not, and lower than this the typical attack's wavering level before (±1 dB) decides


@dataclass(frozen=True)
class Pulse:
    """Tracked beats (seconds), the local period (seconds) at each, and how strong the onset at each was (0-1,
    against the song's median beat)."""

    times: Curve
    periods: Curve
    strength: Curve
    global_period: float
    alternatives: tuple[tuple[float, float], ...]  # (bpm, relative strength) of half/double tempo readings


def normalised(curve: Curve) -> Curve:
    spread = float(np.std(curve)) or 1.0
    return (curve - float(np.mean(curve))) / spread


def autocorrelation(curve: Curve, max_lag: int) -> Curve:
    """Autocorrelation of a mean-removed curve for lags 0..max_lag, by FFT."""
    centred = curve - curve.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(centred) + 1)))
    spectrum = np.fft.rfft(centred, size)
    result = np.fft.irfft(np.abs(spectrum) ** 2, size)[: max_lag + 1]
    return result / (result[0] or 1.0)


def _prior(lags: Curve, frame_rate: float, centre_bpm: float, bpm_range: tuple[float, float]) -> Curve:
    bpm = 60 * frame_rate / np.maximum(lags, 1)
    weight = np.exp(-0.5 * (np.log2(bpm / centre_bpm) / PRIOR_OCTAVES) ** 2)
    weight[(bpm < bpm_range[0]) | (bpm > bpm_range[1])] = 0
    return weight


def _peak_lag(acf: Curve, weight: Curve, fallback: float) -> float:
    """The best-scoring lag, between lags; `fallback` where no lag correlates at all (silence, a held chord)."""
    scored = np.clip(acf, 0, None) * weight
    lag = int(np.argmax(scored))
    if scored[lag] <= 0:
        return fallback
    if 1 <= lag < len(acf) - 1:  # parabolic interpolation between lags
        a, b, c = acf[lag - 1], acf[lag], acf[lag + 1]
        denominator = a - 2 * b + c
        if denominator < 0:
            return float(lag + 0.5 * (a - c) / denominator)
    return float(lag)


def local_periods(
    onsets: Onsets, bpm_range: tuple[float, float], centre_bpm: float
) -> tuple[Curve, float, tuple[tuple[float, float], ...]]:
    """The pulse period (in frames) at every frame, and the whole song's, with readings at half and double tempo."""
    rate = onsets.frame_rate
    curve = onsets.flux
    max_lag = int(rate * 60 / bpm_range[0]) + 2
    lags = np.arange(max_lag + 1, dtype=np.float64)
    whole = autocorrelation(curve, max_lag)
    global_lag = _peak_lag(whole, _prior(lags, rate, centre_bpm, bpm_range), 60 * rate / centre_bpm)
    alternatives = []
    for factor in (0.5, 2.0):
        lag = global_lag * factor
        if 2 <= lag < max_lag:
            near = whole[int(lag) - 1 : int(lag) + 2].max()
            alternatives.append((60 * rate / lag, float(near / (whole[round(global_lag)] or 1.0))))
    # local readings, each preferring the song's tempo, so half/double readings of a window do not win
    local_weight = np.exp(-0.5 * (np.log2(np.maximum(lags, 1) / global_lag) / 0.35) ** 2)
    local_weight *= _prior(lags, rate, centre_bpm, (bpm_range[0] * 0.7, bpm_range[1] * 1.4)) > 0
    half = int(WINDOW_SECONDS * rate / 2)
    step = max(1, int(WINDOW_STEP_SECONDS * rate))
    centres = np.arange(0, len(curve), step)
    readings = np.empty(len(centres))
    for index, centre in enumerate(centres):
        window = curve[max(0, centre - half) : centre + half]
        if len(window) < 2 * max_lag or float(np.std(window)) < 1e-9:
            readings[index] = global_lag
            continue
        readings[index] = _peak_lag(autocorrelation(window, max_lag), local_weight, global_lag)
    smoothed = np.array([np.median(readings[max(0, i - 2) : i + 3]) for i in range(len(readings))])
    periods = np.interp(np.arange(len(curve)), centres, smoothed)
    return periods, global_lag, tuple(alternatives)


def track_beats(onsets: Onsets, periods: Curve) -> Curve:
    """Ellis's dynamic programme with a local period: beat frames (integers) that best fit onsets and periods."""
    score_local = np.clip(normalised(onsets.flux), 0, None)
    count = len(score_local)
    cumulative = score_local.copy()
    backlink = np.full(count, -1, dtype=np.int64)
    for frame in range(count):
        period = periods[frame]
        earliest, latest = frame - round(2 * period), frame - round(period / 2)
        if latest < 0:
            continue
        candidates = np.arange(max(0, earliest), latest + 1)
        penalty = TIGHTNESS * np.log((frame - candidates) / period) ** 2
        scores = cumulative[candidates] - penalty
        best = int(np.argmax(scores))
        if scores[best] > 0:
            cumulative[frame] = score_local[frame] + scores[best]
            backlink[frame] = candidates[best]
    # the last beat: the best cumulative score within the last period, among frames with an onset
    tail = round(periods[-1]) + 1
    last = count - tail + int(np.argmax(cumulative[-tail:] * (score_local[-tail:] > 0)))
    beats = [last]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return np.array(beats[::-1], dtype=np.float64)


def refine(onsets: Onsets, frames: Curve, periods: Curve) -> Curve:
    """Move each beat to the flux peak within a tenth of a period, interpolated between frames; returns frames."""
    flux = onsets.flux
    refined = frames.copy()
    for index, frame in enumerate(frames.astype(np.int64)):
        reach = max(2, int(periods[frame] * 0.1))
        low, high = max(1, frame - reach), min(len(flux) - 2, frame + reach)
        if high <= low:
            continue
        peak = low + int(np.argmax(flux[low : high + 1]))
        a, b, c = flux[peak - 1], flux[peak], flux[peak + 1]
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
        refined[index] = peak + float(np.clip(offset, -0.5, 0.5))
    return refined


def _attack_segments(onsets: Onsets, blocks: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]) -> Curve:
    """The attack envelope around each beat's block (rows), in dB above the median level just before the window."""
    before = np.arange(-round(ATTACK_BEFORE_SECONDS * onsets.attack_rate), 0) + offsets[0]
    last = len(onsets.attack) - 1
    segments = onsets.attack[np.clip(blocks[:, None] + offsets[None, :], 0, last)]
    level = np.median(onsets.attack[np.clip(blocks[:, None] + before[None, :], 0, last)], axis=1)
    return segments - level[:, None]  # type: ignore[no-any-return]


def _attack_start(typical: Curve) -> float | None:
    """Where a typical attack (dB above the level before it) first gets ATTACK_START of the way up to its peak,
    in blocks from the window's start, between blocks; None if it hardly rises."""
    peak = int(np.argmax(typical))
    if typical[peak] < ATTACK_MIN_RISE_DB:
        return None
    level = typical[peak] * ATTACK_START
    below = np.flatnonzero(typical[: peak + 1] < level)
    if not len(below):
        return 0.0
    low = int(below[-1])
    return low + float((level - typical[low]) / (typical[low + 1] - typical[low]))


def attack_times(onsets: Onsets, peaks: Curve) -> Curve:
    """Beats (seconds) where their notes start, from the flux peaks (seconds).

    The recording's typical attack is the median over its beats of the attack envelope around them. Each
    beat is moved (within ATTACK_REACH_SECONDS of its flux peak) to where its own envelope best matches that
    attack, which is then measured again from the moved beats; the beats are then placed where the typical
    attack has started to rise (ATTACK_START of the way up, in dB from what was ringing before): a drum's at
    its first sample, a piano's and a bass's where they start rather than where their bulk arrives. One
    attack for the whole recording, so a beat whose notes are faint is placed by its shape, never by a
    threshold it may not reach. Where the beats have no attack in common (a pad), the flux peaks stand,
    FLUX_LEAD_SECONDS later.
    """
    rate = onsets.attack_rate
    offsets = np.arange(round(ATTACK_WINDOW_SECONDS[0] * rate), round(ATTACK_WINDOW_SECONDS[1] * rate))
    reach = round(ATTACK_REACH_SECONDS * rate)
    shifts = np.arange(-reach, reach + 1)
    origin = np.round(peaks * rate).astype(np.int64)
    blocks = origin.copy()
    if _attack_start(np.median(_attack_segments(onsets, origin, offsets), axis=0)) is None:
        return peaks + FLUX_LEAD_SECONDS  # decided before aligning, which would line up any waveform's ripples into a rise
    inner = offsets[reach:-reach]  # compared at every shift without leaving the window
    around = _attack_segments(onsets, origin, np.arange(offsets[0] - reach, offsets[-1] + reach + 1))
    for _ in range(ATTACK_ROUNDS):
        typical = np.median(_attack_segments(onsets, blocks, offsets), axis=0)
        template = typical[reach:-reach] - typical[reach:-reach].mean()
        template /= float(np.linalg.norm(template)) or 1.0
        scores = np.empty((len(origin), len(shifts)))
        for column, shift in enumerate(shifts):
            part = around[:, inner - offsets[0] + reach + shift]
            part = part - part.mean(axis=1, keepdims=True)
            scores[:, column] = (part @ template) / np.maximum(np.linalg.norm(part, axis=1), 1e-9)
        blocks = origin + shifts[np.argmax(scores, axis=1)]
    start = _attack_start(np.median(_attack_segments(onsets, blocks, offsets), axis=0))
    if start is None:
        return peaks + FLUX_LEAD_SECONDS
    return (blocks + offsets[0] + start + 0.5) / rate  # type: ignore[no-any-return]


def pulse(onsets: Onsets, bpm_range: tuple[float, float] = (60.0, 200.0), centre_bpm: float = 110.0) -> Pulse:
    """Track the pulse: beats in seconds with their local periods and onset strengths."""
    periods, global_lag, alternatives = local_periods(onsets, bpm_range, centre_bpm)
    frames = refine(onsets, track_beats(onsets, periods), periods)
    at = np.clip(np.round(frames).astype(np.int64), 0, len(onsets.flux) - 1)
    typical = float(np.median(onsets.flux[at])) or 1.0  # a beat as strong as the song's usual one is 1
    strength = np.clip(onsets.flux[at] / typical, 0, 1)
    times = attack_times(onsets, frames / onsets.frame_rate)
    return Pulse(times, periods[at] / onsets.frame_rate, strength, global_lag / onsets.frame_rate, alternatives)
