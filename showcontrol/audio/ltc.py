"""SMPTE 12M linear timecode, rendered sample-exactly on the song's frame axis.

Frame k of the song's LTC starts at song second k/fps and carries the label of count start+k.
Biphase mark: a transition at every bit boundary and one more mid-bit for a 1. The parity bit
(27, or 59 at 25 fps) keeps the number of zeros even, so every frame starts with the same
polarity and any window can be rendered on its own and still join its neighbours seamlessly.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from showcontrol.timeline.events import LtcSpec
from showcontrol.timeline.timecode import Label, TimecodeRate, count_to_label

BITS_PER_FRAME = 80
SYNC_WORD = (0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1)


def frame_bits(label: Label, rate: TimecodeRate) -> npt.NDArray[np.uint8]:
    """The 80 bits of one LTC frame in transmission order (user bits and flags zero)."""
    bits = np.zeros(BITS_PER_FRAME, dtype=np.uint8)

    def put(first_bit: int, value: int, width: int) -> None:
        for i in range(width):
            bits[first_bit + i] = (value >> i) & 1

    put(0, label.frames % 10, 4)
    put(8, label.frames // 10, 2)
    bits[10] = rate.drop
    put(16, label.seconds % 10, 4)
    put(24, label.seconds // 10, 3)
    put(32, label.minutes % 10, 4)
    put(40, label.minutes // 10, 3)
    put(48, label.hours % 10, 4)
    put(56, label.hours // 10, 2)
    bits[64:] = SYNC_WORD
    if (BITS_PER_FRAME - int(bits.sum())) % 2:
        bits[59 if rate.nominal == 25 else 27] = 1
    return bits


def render_ltc(spec: LtcSpec, sample_rate: int, first_frame: int, frame_count: int) -> npt.NDArray[np.float32]:
    """LTC audio for song frames first_frame .. first_frame + frame_count."""
    fps = spec.rate.fps
    first_ltc = math.floor(Fraction(first_frame) * fps / sample_rate)
    end_ltc = math.ceil(Fraction(first_frame + frame_count) * fps / sample_rate) + 1
    bits = np.concatenate([frame_bits(count_to_label(spec.start_count + k, spec.rate), spec.rate) for k in range(first_ltc, end_ltc)])
    half_bit = Fraction(sample_rate) / (fps * BITS_PER_FRAME * 2)  # samples per half bit, exact
    bit_index = np.arange(first_ltc * BITS_PER_FRAME, end_ltc * BITS_PER_FRAME, dtype=np.int64)
    halves = np.sort(np.concatenate([2 * bit_index, 2 * bit_index[bits == 1] + 1]))
    edges = (halves * half_bit.numerator + half_bit.denominator // 2) // half_bit.denominator  # round half up
    origin = int(edges[0])
    toggles = np.zeros(int(edges[-1]) - origin + 1, dtype=np.int8)
    toggles[edges - origin] = 1
    level = np.cumsum(toggles, dtype=np.int64) & 1
    window = level[first_frame - origin : first_frame - origin + frame_count]
    amplitude = 10 ** (spec.level_db / 20)
    return ((2.0 * window - 1.0) * amplitude).astype(np.float32)
