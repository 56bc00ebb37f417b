"""LTC checked by libltc, the reference decoder: every frame, in order, at the right sample."""

from __future__ import annotations

import math
from fractions import Fraction

import libltc
import numpy as np
import pytest

from showcontrol.audio.ltc import frame_bits, render_ltc
from showcontrol.model.timecode import RATES, Label, count_to_label, label_to_count, parse_label
from showcontrol.timeline.events import LtcSpec

LIB = libltc.load()
needs_libltc = pytest.mark.skipif(LIB is None, reason="libltc11 is not installed (apt-get install libltc11)")


def test_frame_bits_golden_01_00_00_00_at_25() -> None:
    bits = frame_bits(Label(1, 0, 0, 0), RATES["25"])
    assert list(bits[64:]) == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    assert list(bits[48:52]) == [1, 0, 0, 0]  # hours units = 1, LSB first
    assert (80 - bits.sum()) % 2 == 0 and bits[27] == 0  # 25 fps keeps parity in bit 59


def test_drop_frame_flag_and_parity_bit_27() -> None:
    bits = frame_bits(Label(0, 1, 0, 2), RATES["29.97df"])
    assert bits[10] == 1 and list(bits[0:4]) == [0, 1, 0, 0]
    assert (80 - bits.sum()) % 2 == 0 and bits[59] == 0


@needs_libltc
@pytest.mark.parametrize(
    ("rate_name", "start", "sample_rate"),
    [
        ("24", "10:00:00:00", 48000),
        ("25", "00:59:50:00", 48000),
        ("30", "01:00:00:00", 44100),
        ("23.976", "00:00:00:00", 48000),
        ("29.97df", "00:00:50;00", 48000),
        ("29.97df", "00:09:55;00", 44100),
        ("29.97df", "00:10:55;00", 48000),
    ],
)
def test_libltc_decodes_every_frame(rate_name: str, start: str, sample_rate: int) -> None:
    rate = RATES[rate_name]
    spec = LtcSpec(rate, label_to_count(parse_label(start, rate), rate), -12.0)
    first_frame = -12345  # pre-roll: the signal begins mid-frame, before song frame 0
    seconds = 20
    signal = render_ltc(spec, sample_rate, first_frame, seconds * sample_rate)
    decoded = libltc.decode(LIB, signal, float(sample_rate / rate.fps))
    samples_per_frame = Fraction(sample_rate) / rate.fps
    first_k = math.ceil(first_frame / samples_per_frame)  # first LTC frame that starts inside the signal
    expected_frames = math.floor((first_frame + len(signal)) / samples_per_frame) - first_k  # the last one is never reported
    assert len(decoded) >= expected_frames - 1
    for index, frame in enumerate(decoded):
        k = first_k + index
        label = count_to_label(spec.start_count + k, rate)
        assert frame.label == (label.hours, label.minutes, label.seconds, label.frames)
        assert frame.drop == rate.drop
        expected_start = k * samples_per_frame - first_frame
        if index:  # libltc's offsets are approximate (a constant bias of up to 3 samples; the first frame before lock)
            assert abs(frame.off_start - float(expected_start)) <= 3.0, "a bit is 20+ samples: this catches any slip"
    if rate.drop:  # the new minute's first label: :02 (dropped :00 and :01) except every tenth minute
        labels = [f.label for f in decoded]
        turn = next(i for i in range(1, len(labels)) if labels[i][1] != labels[i - 1][1])
        assert labels[turn - 1][2:] == (59, 29)
        assert labels[turn][2:] == (0, 0 if labels[turn][1] % 10 == 0 else 2)


def test_our_edges_fall_on_the_exact_sample() -> None:
    rate = RATES["29.97df"]
    spec = LtcSpec(rate, 0, 0.0)
    signal = render_ltc(spec, 48000, 0, 48000)
    edges = np.flatnonzero(np.diff(np.signbit(signal).astype(np.int8))) + 1
    samples_per_frame = Fraction(48000) / rate.fps
    for k in range(1, 29):  # every frame starts with a boundary edge at round(k * spf)
        assert math.floor(k * samples_per_frame + Fraction(1, 2)) in edges
    assert signal[0] > 0  # every frame starts high: even zeros per frame keep the polarity fixed


def test_windows_join_seamlessly() -> None:
    spec = LtcSpec(RATES["25"], 90000, -12.0)
    whole = render_ltc(spec, 48000, -5000, 100000)
    parts = np.concatenate([render_ltc(spec, 48000, start, 777) for start in range(-5000, 95000, 777)])[:100000]
    assert np.array_equal(whole, parts)
