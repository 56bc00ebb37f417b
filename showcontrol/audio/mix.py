"""Routing stems (track, click, LTC) onto the interface's channels, one block at a time.

The same `mix_block` fills the real-time callback's buffer and the offline renderer's blocks, so
what `render` writes is what `run` plays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

Block = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Stem:
    """Audio for one feed: `data[i]` sounds at song frame `origin_frame + i`; shape (frames, channels)."""

    origin_frame: int
    data: Block

    @property
    def end_frame(self) -> int:
        return self.origin_frame + len(self.data)


def fit_channels(data: Block, channels: int) -> Block:
    """Make audio fit a route: keep it if it matches, spread mono, fold anything else down to mono first."""
    if data.shape[1] == channels:
        return data
    mono = data if data.shape[1] == 1 else data.mean(axis=1, keepdims=True, dtype=np.float32)
    return np.repeat(mono, channels, axis=1)


@lru_cache(maxsize=64)
def columns(channels: tuple[int, ...]) -> slice | list[int]:
    """The interface channels of a route as an index: a slice where they run in order (a view, one numpy
    call) rather than a list (a copy, add and write back: about 6x slower, in the audio callback)."""
    if channels and list(channels) == list(range(channels[0], channels[0] + len(channels))):
        return slice(channels[0], channels[0] + len(channels))
    return list(channels)


def mix_block(stems: Mapping[str, Stem], routes: Mapping[str, tuple[int, ...]], first_frame: int, out: Block) -> None:
    """Fill `out` (frames, channels) with song frames first_frame.. from each routed stem; silence elsewhere."""
    out.fill(0.0)
    frames = len(out)
    for feed, channels in routes.items():
        stem = stems.get(feed)
        if stem is None:
            continue
        begin = max(first_frame, stem.origin_frame)
        end = min(first_frame + frames, stem.end_frame)
        if begin >= end:
            continue
        source = stem.data[begin - stem.origin_frame : end - stem.origin_frame]
        out[begin - first_frame : end - first_frame, columns(channels)] += source


def fade_out(frames: int) -> Block:
    """An equal-power fade from 1 to 0 over `frames`, made once (the callback only slices it)."""
    x = np.linspace(0.0, 1.0, max(frames, 1), endpoint=False)
    return np.cos(x * np.pi / 2).astype(np.float32)


def mix_fading(stem: Stem, channels: tuple[int, ...], first_frame: int, out: Block, envelope: Block) -> None:
    """Fill `out` with one stem's frames from first_frame on, times `envelope` (as long as `out`)."""
    out.fill(0.0)
    begin = max(first_frame, stem.origin_frame)
    end = min(first_frame + len(out), stem.end_frame)
    if begin < end:
        source = stem.data[begin - stem.origin_frame : end - stem.origin_frame] * envelope[begin - first_frame : end - first_frame, None]
        out[begin - first_frame : end - first_frame, columns(channels)] += source


def crossfade_seam(
    stem: Stem, channels: tuple[int, ...], out: Block, new_first: int, old_first: int, fade_in: Block, fade_out: Block
) -> None:
    """Where a loop wraps: `out` already holds the stem from `new_first` (the loop's start) at full gain;
    turn that into an equal-power crossfade from the audio that would have followed the loop's end
    (`old_first` on), so the seam has no click. `fade_in` and `fade_out` are as long as `out`."""
    frames = len(out)
    if new_first < stem.origin_frame or old_first < stem.origin_frame or max(new_first, old_first) + frames > stem.end_frame:
        return  # the seam is outside the audio: nothing to blend
    new = stem.data[new_first - stem.origin_frame : new_first - stem.origin_frame + frames]
    old = stem.data[old_first - stem.origin_frame : old_first - stem.origin_frame + frames]
    out[:, columns(channels)] += new * (fade_in[:, None] - 1) + old * fade_out[:, None]


def lay_track(out: Block, audio: Block, origin_frame: int, gain: float, envelope: Block) -> None:
    """Add a track whose frame 0 sounds at song frame `origin_frame` into `out` (song frame 0 at row 0), times
    `gain` and its per-frame `envelope` (as long as `audio`); what falls outside `out` is dropped."""
    begin, end = max(origin_frame, 0), min(origin_frame + len(audio), len(out))
    if begin < end:
        rows = slice(begin - origin_frame, end - origin_frame)
        out[begin:end] += audio[rows] * (envelope[rows, None] * np.float32(gain))


def entry_exit_envelope(frames: int, origin_frame: int, enter_frame: int | None, leave_frame: int | None, fade_frames: int) -> Block:
    """A track's gain per frame: silent before it enters and after it leaves, with equal-power fades
    `fade_frames` long centred on those song frames (0: a hard cut exactly on the frame)."""
    envelope = np.ones(frames, np.float32)
    if enter_frame is not None:
        _fade(envelope, enter_frame - fade_frames // 2 - origin_frame, fade_frames, rising=True)
    if leave_frame is not None:
        _fade(envelope, leave_frame - fade_frames // 2 - origin_frame, fade_frames, rising=False)
    return envelope


def _fade(envelope: Block, begin: int, frames: int, rising: bool) -> None:
    """Multiply in a quarter-sine fade starting at row `begin`, with silence on its quiet side."""
    x = (np.arange(len(envelope), dtype=np.float64) - begin + 0.5) / max(frames, 1)
    x = np.clip(x, 0.0, 1.0) if frames else (x > 0).astype(np.float64)
    envelope *= np.sin((x if rising else 1.0 - x) * np.pi / 2).astype(np.float32)  # exactly 0 and 1 at the ends
