"""The earpiece click: synthesised hits and their placement at exact frames.

Every hit starts at full amplitude on its first sample (a cosine burst), so the onset *is* the
frame the timeline says, and a test can find it by looking for the first non-zero sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from showcontrol.timeline.events import ClickHit, Event

Samples = npt.NDArray[np.float32]

# (partials in Hz with weights, peak amplitude, decay time constant in ms, length in ms)
_HIT_RECIPES: Mapping[str, tuple[tuple[tuple[float, float], ...], float, float, float]] = {
    "accent": (((1760.0, 1.0), (3520.0, 0.35)), 1.0, 14.0, 70.0),
    "beat": (((1175.0, 1.0), (2350.0, 0.25)), 0.7, 12.0, 60.0),
    "sub": (((880.0, 1.0),), 0.35, 8.0, 40.0),
    "count": (((2637.0, 1.0), (1318.5, 0.6), (5274.0, 0.2)), 0.85, 10.0, 60.0),
}


@dataclass(frozen=True)
class ClickSounds:
    """Hits by name (accent, beat, sub, count), spoken numbers for count-ins and spoken guide calls by
    their words, at one sample rate."""

    sample_rate: int
    hits: Mapping[str, Samples]
    voice: Mapping[int, Samples]
    calls: Mapping[str, Samples] = field(default_factory=dict)


def synthesize_hits(sample_rate: int) -> dict[str, Samples]:
    hits = {}
    for name, (partials, peak, decay_ms, length_ms) in _HIT_RECIPES.items():
        t = np.arange(int(sample_rate * length_ms / 1000)) / sample_rate
        wave = sum(weight * np.cos(2 * np.pi * freq * t) for freq, weight in partials)
        envelope = np.exp(-t / (decay_ms / 1000))
        hits[name] = (peak * envelope * wave / sum(w for _, w in partials)).astype(np.float32)
    return hits


def render_click(events: Iterable[Event], first_frame: int, out: Samples, sounds: ClickSounds, gain: float) -> None:
    """Add every click event's hit (and spoken count) into `out`, which covers frames first_frame..+len(out).

    Hits that start before the window but ring into it are included, so block-wise rendering is seamless.
    """
    for event in events:
        hit = event.payload
        if not isinstance(hit, ClickHit):
            continue
        offset = event.at_frame - first_frame
        if hit.sound in sounds.hits:
            _add_at(out, offset, sounds.hits[hit.sound], gain)
        if hit.count is not None and hit.count in sounds.voice:
            _add_at(out, offset, sounds.voice[hit.count], gain)
        if hit.call is not None and hit.call in sounds.calls:
            _add_at(out, offset, sounds.calls[hit.call], gain)


def _add_at(out: Samples, offset: int, sound: Samples, gain: float) -> None:
    begin, end = max(offset, 0), min(offset + len(sound), len(out))
    if begin < end:
        out[begin:end] += gain * sound[begin - offset : end - offset]
