"""SMPTE 12M linear timecode, rendered sample-exactly on the song's frame axis.

Frame k of the song's LTC starts at song second k/fps and carries the label of count start+k.
Biphase mark: a transition at every bit boundary and one more mid-bit for a 1. The parity bit
(27, or 59 at 25 fps) keeps the number of zeros even, so every frame starts with the same
polarity and any window can be rendered on its own and still join its neighbours seamlessly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from showcontrol.model.timecode import Label, TimecodeRate, count_to_label
from showcontrol.timeline.events import LtcSpec
from showcontrol.timeline.tempo import Rate

BITS_PER_FRAME = 80
SYNC_WORD = (0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1)


# (first bit, width) of each BCD digit, in transmission order
_FIELDS = {
    "frame_units": (0, 4),
    "frame_tens": (8, 2),
    "second_units": (16, 4),
    "second_tens": (24, 3),
    "minute_units": (32, 4),
    "minute_tens": (40, 3),
    "hour_units": (48, 4),
    "hour_tens": (56, 2),
}


def frame_bits(label: Label, rate: TimecodeRate) -> npt.NDArray[np.uint8]:
    """The 80 bits of one LTC frame in transmission order (user bits and flags zero)."""
    bits: npt.NDArray[np.uint8] = frames_bits([label], rate)[0]
    return bits


def frames_bits(labels: Sequence[Label], rate: TimecodeRate) -> npt.NDArray[np.uint8]:
    """Bits of many frames at once, shape (frames, 80): packing is vectorised, labels come from `count_to_label`."""
    h, m, s, f = (
        np.array(column, dtype=np.int64) for column in zip(*((x.hours, x.minutes, x.seconds, x.frames) for x in labels), strict=True)
    )
    digits = {
        "frame_units": f % 10,
        "frame_tens": f // 10,
        "second_units": s % 10,
        "second_tens": s // 10,
        "minute_units": m % 10,
        "minute_tens": m // 10,
        "hour_units": h % 10,
        "hour_tens": h // 10,
    }
    bits = np.zeros((len(labels), BITS_PER_FRAME), dtype=np.uint8)
    for name, (first_bit, width) in _FIELDS.items():
        for i in range(width):
            bits[:, first_bit + i] = (digits[name] >> i) & 1
    bits[:, 10] = rate.drop
    bits[:, 64:] = SYNC_WORD
    zeros = BITS_PER_FRAME - bits.sum(axis=1, dtype=np.int64)
    bits[:, 59 if rate.nominal == 25 else 27] = zeros % 2  # make the count of zeros even
    return bits


def render_ltc(spec: LtcSpec, sample_rate: Rate, first_frame: int, frame_count: int) -> npt.NDArray[np.float32]:
    """LTC audio for song frames first_frame .. first_frame + frame_count."""
    fps = spec.rate.fps
    first_ltc = math.floor(Fraction(first_frame) * fps / sample_rate)
    end_ltc = math.ceil(Fraction(first_frame + frame_count) * fps / sample_rate) + 1
    labels = [count_to_label(spec.start_count + k, spec.rate) for k in range(first_ltc, end_ltc)]
    bits = frames_bits(labels, spec.rate).reshape(-1)
    half_bit = Fraction(sample_rate) / (fps * BITS_PER_FRAME * 2)  # samples per half bit, exact
    bit_index = np.arange(first_ltc * BITS_PER_FRAME, end_ltc * BITS_PER_FRAME, dtype=np.int64)
    halves = np.stack([2 * bit_index, 2 * bit_index + 1], axis=1)[np.stack([np.ones_like(bits), bits], axis=1) == 1]  # in order
    edges = (halves * half_bit.numerator + half_bit.denominator // 2) // half_bit.denominator  # round half up
    origin = int(edges[0])
    toggles = np.zeros(int(edges[-1]) - origin + 1, dtype=np.int8)
    toggles[edges - origin] = 1
    level = np.cumsum(toggles, dtype=np.int64) & 1
    window = level[first_frame - origin : first_frame - origin + frame_count]
    amplitude = 10 ** (spec.level_db / 20)
    return ((2.0 * window - 1.0) * amplitude).astype(np.float32)
