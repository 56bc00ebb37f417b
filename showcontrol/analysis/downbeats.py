"""Where bars begin: of the tracked pulses, which one in every `per_bar` carries the bar line.

Two things mark a bar line in most music: the bass and kick land there, and the harmony changes there.
Each pulse gets the low-band onset at it and the change of the spectrum's shape across it (mean band
energies of the pulse before against the pulse after); the phase whose pulses score highest wins, and
how far it leads the runner-up is the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from showcontrol.analysis.beats import normalised
from showcontrol.analysis.onsets import Curve, Onsets

HARMONY_WEIGHT = 1.0
BASS_WEIGHT = 1.0


@dataclass(frozen=True)
class Phase:
    """Index (0..per_bar-1) of the first pulse that starts a bar, and the lead of that phase over the next best (0-1)."""

    first: int
    confidence: float


def pulse_features(onsets: Onsets, times: Curve, per_bar: int) -> tuple[Curve, Curve]:
    """Low-band onset and harmonic change at each pulse, each z-scored over the song.

    The harmonic change compares the mean chroma of the half bar before a pulse with the half bar after
    it: at a bar line both halves hold one chord each, elsewhere they share one.
    """
    frames = np.clip(np.round(onsets.frame_rate * times).astype(np.int64), 0, len(onsets.flux) - 1)
    bass = np.array([onsets.low_flux[max(0, f - 3) : f + 4].max() for f in frames])
    at = np.clip(np.round(onsets.chroma_rate * times).astype(np.int64), 0, len(onsets.chroma) - 1)
    span = max(1, per_bar // 2)
    change = np.zeros(len(frames))
    for index in range(span, len(at) - span):
        before = onsets.chroma[at[index - span] : at[index]].mean(axis=0)
        after = onsets.chroma[at[index] : max(at[index + span], at[index] + 1)].mean(axis=0)
        norm = float(np.linalg.norm(before) * np.linalg.norm(after)) or 1.0
        change[index] = 1 - float(before @ after) / norm
    return normalised(bass), normalised(change)


def bar_phase(onsets: Onsets, times: Curve, per_bar: int) -> Phase:
    """Which pulses begin bars, for a bar of `per_bar` pulses."""
    if per_bar <= 1 or len(times) < 2 * per_bar:
        return Phase(0, 0.0)
    bass, change = pulse_features(onsets, times, per_bar)
    combined = BASS_WEIGHT * bass + HARMONY_WEIGHT * change
    scores = [float(np.mean(combined[phase::per_bar])) for phase in range(per_bar)]
    ranked = sorted(scores, reverse=True)
    spread = float(np.std(combined)) or 1.0
    confidence = float(np.clip((ranked[0] - ranked[1]) / spread, 0, 1))
    return Phase(int(np.argmax(scores)), confidence)
