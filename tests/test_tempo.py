"""Tempo-map maths against values worked out by hand or by independent formulas."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from showcontrol.model.position import BarBeat, Seconds, SectionOffset, parse_position
from showcontrol.model.show import Meter, TempoChange, default_groups
from showcontrol.timeline.tempo import TempoMap, frame_at


def meter(text: str, groups: tuple[int, ...] | None = None) -> Meter:
    n, d = map(int, text.split("/"))
    return Meter(n, d, groups or default_groups(n, d))


def change(bar: int, bpm: float | Fraction, m: str = "4/4", ramp: int = 0, groups: tuple[int, ...] | None = None) -> TempoChange:
    return TempoChange(bar, Fraction(bpm), meter(m, groups), ramp)


SONG = [change(1, 120), change(21, 120, "7/8", groups=(2, 2, 3)), change(25, 132, ramp=4)]


def test_constant_tempo_positions_are_exact_at_48k_and_44k1() -> None:
    tempo = TempoMap([change(1, 120)], Fraction("0.5"), 480)
    assert tempo.frame(BarBeat(1), 48000) == 24000
    assert tempo.frame(BarBeat(2), 48000) == 120000
    assert tempo.frame(BarBeat(9, 3), 48000) == 840000  # 0.5 + 8 bars * 2 s + 2 beats * 0.5 s
    assert tempo.frame(BarBeat(9, 3), 44100) == 771750
    assert tempo.frame(BarBeat(1, 2, 240), 48000) == 24000 + 24000 + 12000


def test_no_drift_over_a_long_song_at_an_awkward_tempo() -> None:
    tempo = TempoMap([change(1, 97)], Fraction(0), 480)
    quarters = 999 * 4
    exact = Fraction(quarters * 60, 97)
    assert tempo.seconds(BarBeat(1000)) == exact
    assert tempo.frame(BarBeat(1000), 44100) == math.floor(exact * 44100 + Fraction(1, 2))


def test_meter_change_uses_the_new_bar_length() -> None:
    tempo = TempoMap(SONG, Fraction("0.5"), 480)
    assert tempo.seconds(BarBeat(21)) == Fraction("40.5")
    assert tempo.seconds(BarBeat(22)) == Fraction("40.5") + Fraction(7, 2) * Fraction(1, 2)  # 7 eighths at 120 q/min
    assert tempo.seconds(BarBeat(21, 3)) == Fraction("40.5") + 2 * Fraction(1, 4)
    assert tempo.meter_at(23) == meter("7/8", (2, 2, 3))
    assert meter("7/8", (2, 2, 3)).pulse_beats == {1, 3, 5}


def test_ramp_follows_the_closed_form_and_ends_exactly() -> None:
    tempo = TempoMap(SONG, Fraction("0.5"), 480)
    ramp_start = tempo.seconds(BarBeat(25))
    assert ramp_start == Fraction("40.5") + 4 * Fraction(7, 4)
    r0, r1, quarters = Fraction(2), Fraction(132, 60), 16
    duration = 2 * quarters / (r0 + r1)  # linear in time: average rate
    assert tempo.seconds(BarBeat(29)) == ramp_start + duration  # exact rational after the ramp
    accel = float((r1 - r0) / duration)
    for bar, beat in [(26, 1), (27, 3), (28, 4)]:
        q = (bar - 25) * 4 + beat - 1
        expected = float(ramp_start) + (-2 + math.sqrt(4 + 2 * accel * q)) / accel  # solve r0 t + a t^2/2 = q
        assert tempo.seconds(BarBeat(bar, beat)) == pytest.approx(expected, abs=1e-9)
    assert tempo.seconds(BarBeat(30)) == ramp_start + duration + Fraction(4 * 60, 132)
    assert float(tempo.quarter_bpm_at(29)) == pytest.approx(132)
    assert float(tempo.quarter_bpm_at(27)) == pytest.approx(math.sqrt(4 + 2 * accel * 8) * 60)


def test_position_at_inverts_seconds_on_every_tick_grid_point() -> None:
    tempo = TempoMap(SONG, Fraction("0.5"), 480)
    for bar in range(1, 34):
        for beat in range(1, tempo.meter_at(bar).numerator + 1):
            for tick in (0, 1, 240, 479):
                position = BarBeat(bar, beat, tick)
                assert tempo.position_at(tempo.seconds(position)) == position


def test_pickup_bars_extend_the_first_tempo_backwards() -> None:
    tempo = TempoMap([change(1, 120)], Fraction(3), 480)
    assert tempo.seconds(BarBeat(0, 3)) == Fraction(2)
    assert tempo.position_at(Fraction(2)) == BarBeat(0, 3)


def test_beat_unit_dotted_quarter_in_six_eight() -> None:
    tempo = TempoMap([TempoChange(1, Fraction(60) * Fraction(3, 8) * 4, meter("6/8"))], Fraction(0), 480)
    assert tempo.seconds(BarBeat(2)) == 2  # two dotted quarters a second... one a second: a 6/8 bar is 2 s
    assert tempo.seconds(BarBeat(1, 4)) == 1
    assert meter("6/8").pulse_beats == {1, 4}


@pytest.mark.parametrize(
    ("position", "reason"),
    [
        (BarBeat(3, 5), "bar 3 is in 4/4, so it has beats 1 to 4, not 5"),
        (BarBeat(22, 8), "bar 22 is in 7/8, so it has beats 1 to 7, not 8"),
        (BarBeat(3, 1, 480), "tick 480 is out of range"),
    ],
)
def test_impossible_positions_are_explained(position: BarBeat, reason: str) -> None:
    message = TempoMap(SONG, Fraction(0), 480).check(position)
    assert message is not None and reason in message


def test_structural_tempo_problems_refuse_to_build() -> None:
    with pytest.raises(ValueError, match="inside the ramp"):
        TempoMap([change(1, 120), change(5, 130, ramp=4), change(7, 100)], Fraction(0), 480)
    with pytest.raises(ValueError, match="starts at bar 2"):
        TempoMap([change(2, 120)], Fraction(0), 480)


def test_frames_round_half_up() -> None:
    assert frame_at(Fraction(1, 96000), 48000) == 1
    assert frame_at(Fraction(1, 96001), 48000) == 0
    assert frame_at(0.5 / 48000, 48000) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9.1", BarBeat(9, 1)),
        ("9.10", BarBeat(9, 10)),
        ("17.3.240", BarBeat(17, 3, 240)),
        ("4", BarBeat(4)),
        ("-1.3", BarBeat(-1, 3)),
        ("12.5s", Seconds(Fraction(25, 2))),
        ("1:02.5", Seconds(Fraction(125, 2))),
        ("chorus", SectionOffset("chorus")),
        ("chorus:2.3", SectionOffset("chorus", 2, 3)),
        ("verse-2:1.2.120", SectionOffset("verse-2", 1, 2, 120)),
    ],
)
def test_positions_parse_from_their_exact_text(text: str, expected: object) -> None:
    assert parse_position(text) == expected


@pytest.mark.parametrize("text", ["9..1", "1.2.3.4", "chorus:x", "12.5ms", ""])
def test_bad_positions_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_position(text)
