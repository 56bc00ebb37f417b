"""`showcontrol analyze`: the map fitting on exact beat times, the tracker on a synthesised recording, and the
draft written into a show with its comments kept and loaded back by `check`."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import REPO, showcontrol

from showcontrol.analysis.draft import Draft, Hints, analyse, subdivide
from showcontrol.analysis.meter_changes import drifting_bars, lay_bars
from showcontrol.analysis.onsets import ANALYSIS_RATE
from showcontrol.analysis.tempo_fit import fit_tempo_map
from showcontrol.analyze import draft_for_file, parse_meter
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.timeline.tempo import TempoMap

FOUR = parse_meter("4/4")


def beat_times(bpms: list[float], first: float = 0.5) -> np.ndarray:
    """One beat per tempo given (the tempo until the next beat), from `first`."""
    return np.concatenate([[first], first + np.cumsum([60 / bpm for bpm in bpms])])


def map_beats(fitted_tempo: tuple, first_downbeat: Fraction, count: int, per_bar: int = 4) -> np.ndarray:
    tempo_map = TempoMap(fitted_tempo, first_downbeat, 480)
    return np.array([float(tempo_map.seconds(BarBeat(1 + k // per_bar, 1 + k % per_bar))) for k in range(count)])


def test_a_steady_recording_is_one_entry() -> None:
    beats = beat_times([120.0] * 64, first=0.512)
    fitted = fit_tempo_map(beats, 4, FOUR)
    assert [(c.bar, c.quarter_bpm, c.ramp_bars) for c in fitted.tempo] == [(1, 120, 0)]
    assert fitted.first_downbeat == Fraction(512, 1000)


def test_a_tempo_change_is_an_entry_at_its_bar() -> None:
    beats = beat_times([120.0] * 32 + [90.0] * 32)  # bars 1-8 at 120, bars 9-16 at 90
    fitted = fit_tempo_map(beats, 4, FOUR)
    assert [(c.bar, c.quarter_bpm) for c in fitted.tempo] == [(1, 120), (9, 90)]


def test_a_gradual_change_is_a_ramp_that_the_timeline_plays_where_it_was_heard() -> None:
    # tempo linear in time from 120 to 96 over bars 5-8, as the timeline ramps
    from showcontrol.model.show import TempoChange

    truth = (TempoChange(1, Fraction(120), FOUR), TempoChange(5, Fraction(96), FOUR, 4))
    beats = map_beats(truth, Fraction(1, 2), 49)
    fitted = fit_tempo_map(beats, 4, FOUR)
    assert [(c.bar, c.ramp_bars) for c in fitted.tempo] == [(1, 0), (5, 4)]
    assert abs(float(fitted.tempo[1].quarter_bpm) - 96) < 0.2
    assert np.max(np.abs(map_beats(fitted.tempo, fitted.first_downbeat, 49) - beats)) < 0.002


def test_a_drifting_recording_is_mapped_within_the_tolerance_by_the_timeline() -> None:
    rng = np.random.default_rng(3)
    bpms = [100 * (1 + 0.04 * math.sin(2 * math.pi * k / 150)) for k in range(200)]
    beats = beat_times(bpms) + np.concatenate([[0], rng.normal(0, 0.002, 200)])
    fitted = fit_tempo_map(beats, 4, FOUR)
    mapped = map_beats(fitted.tempo, fitted.first_downbeat, len(beats))
    assert 3 < len(fitted.tempo) < 50  # per few bars, not one per beat, not one for all
    assert np.max(np.abs(mapped - beats)) < 0.020
    assert np.allclose(mapped, fitted.map_beats, atol=1e-6)  # the fitting's own ramp maths is the timeline's


def test_subdivide_splits_pulses_into_counted_beats() -> None:
    assert subdivide(np.array([0.0, 1.5, 3.0]), 3).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def synthesised_song(
    bpm: float, first: float, bars: int, per_bar: int = 4, rate: int = ANALYSIS_RATE, quiet_bars: int = 0, pad: bool = True
) -> np.ndarray:
    """Kick and bass on each bar's beat 1 (the bass note changing each bar), hi-hat on every beat, a pickup before bar 1;
    the first `quiet_bars` only a pad swelling and fading each bar (an intro without drums), or silence."""
    seconds_per_beat = 60 / bpm
    signal = np.zeros(int((first + (bars * per_bar + 2) * seconds_per_beat) * rate), np.float32)
    rng = np.random.default_rng(1)
    roots = (55.0, 73.4, 61.7, 82.4)

    def add(at: float, sound: np.ndarray) -> None:
        start = round(at * rate)
        signal[start : start + len(sound)] += sound[: len(signal) - start]

    t = np.arange(int(0.4 * rate)) / rate
    hat = (rng.standard_normal(1500) * np.exp(-np.arange(1500) / 200) * 0.15).astype(np.float32)
    add(first - seconds_per_beat, hat)  # the pickup
    for beat in range(bars * per_bar):
        at = first + beat * seconds_per_beat
        if beat < quiet_bars * per_bar:
            if pad and beat % per_bar == 0:  # no attack to track
                swell = np.sin(np.pi * np.arange(int(per_bar * seconds_per_beat * rate)) / (per_bar * seconds_per_beat * rate))
                add(at, (0.2 * swell * np.sin(2 * np.pi * 220 * np.arange(len(swell)) / rate)).astype(np.float32))
            continue
        add(at, hat)
        if beat % per_bar == 0:
            root = roots[(beat // per_bar) % 4]
            add(at, (np.sin(2 * np.pi * 50 * t * (1 - t)) * np.exp(-t * 20) * 0.8).astype(np.float32))
            add(
                at,
                (np.sin(2 * np.pi * root * t) * np.exp(-t * 3) * 0.5 + np.sin(4 * np.pi * root * t) * np.exp(-t * 4) * 0.3).astype(
                    np.float32
                ),
            )
    return signal


@pytest.mark.parametrize("meter", ["4/4", "3/4"])
def test_the_tracker_maps_a_synthesised_recording_and_hears_its_meter(meter: str) -> None:
    beats_per_bar = int(meter[0])
    draft = analyse(synthesised_song(104.0, 1.234, 8, beats_per_bar), Hints())
    assert draft.meter == parse_meter(meter)
    assert abs(float(draft.first_downbeat) - 1.234) < 0.010
    assert all(abs(float(c.quarter_bpm) - 104) < 0.5 for c in draft.tempo)


@pytest.mark.parametrize("pad", [True, False], ids=["pad intro", "silent intro"])
def test_an_intro_without_attacks_is_flagged_and_mapped_from_bar1(pad: bool) -> None:
    song = synthesised_song(100.0, 0.8, 10, quiet_bars=2, pad=pad)
    draft = analyse(song, Hints(meter=FOUR, bar1_seconds=0.85))
    assert abs(float(draft.first_downbeat) - 0.8) < 0.010  # tracked through the pad, or the first tempo carried back
    assert max(draft.bar_confidence[:2]) < 0.25 and min(draft.bar_confidence[3:9]) > 0.8
    assert any(w.startswith("bars 1-2: weak or irregular beats") for w in draft.warnings), draft.warnings
    assert any(w.startswith("no beat was heard before 5.6") for w in draft.warnings) == (not pad), draft.warnings


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "My Song (live).wav"
    soundfile.write(str(path), synthesised_song(96.0, 0.75, 8), ANALYSIS_RATE)
    return path


def test_analyze_prints_a_song_entry(recording: Path) -> None:
    result = showcontrol("analyze", str(recording), "--sections", "intro=1,verse=5")
    assert result.returncode == 0, result.stderr
    assert "  - id: my-song-live\n" in result.stdout
    first_downbeat = re.search(r"first_downbeat: ([\d.]+)", result.stdout)
    assert first_downbeat is not None and abs(float(first_downbeat.group(1)) - 0.75) < 0.010
    assert "sections: {intro: 1, verse: 5}" in result.stdout
    assert "meter heard as 4/4" in result.stderr
    assert f"# audio: {recording} is relative to the folder analyze ran in" not in result.stdout  # an absolute path needs no note
    relative = subprocess.run(
        [sys.executable, "-m", "showcontrol", "analyze", recording.name], capture_output=True, text=True, cwd=recording.parent
    )
    assert "# audio: My Song (live).wav is relative to the folder analyze ran in" in relative.stdout, relative.stderr


def test_analyze_writes_into_a_show_keeping_its_comments(recording: Path, show_dir) -> None:
    show = show_dir(
        "show.yaml",
        """
        # our show: keep this comment
        version: 1
        songs:
          - id: first       # the opener
            audio: "My Song (live).wav"
            first_downbeat: 0.1
            tempo: [{bar: 1, bpm: 60}]
            lyrics:
              - {at: 2.1, text: "Hello, world", breath: 1.4}
        """,
    )
    result = showcontrol("analyze", str(recording), "--write", str(show), "--song", "first", "--meter", "4/4")
    assert result.returncode == 0, result.stderr
    text = show.read_text()
    assert "# our show: keep this comment" in text and "# the opener" in text and '"Hello, world"' in text
    loaded = load_show(show)
    song = loaded.show.song("first")
    assert abs(float(song.tracks[0].first_downbeat) - 0.75) < 0.010
    assert abs(float(song.tempo[0].quarter_bpm) - 96) < 0.5
    assert showcontrol("check", str(show)).returncode == 0


def test_analyze_refuses_a_write_that_check_would_reject(recording: Path, show_dir) -> None:
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - id: waltz
            audio: "My Song (live).wav"
            tempo: [{bar: 1, bpm: 90, meter: 3/4}]
            cues: [{at: 2.3, osc: {to: lights, address: /go}}]
        """,
    )
    before = show.read_text()
    result = showcontrol("analyze", str(recording), "--write", str(show), "--song", "waltz", "--meter", "2/4")
    assert result.returncode == 2
    assert f"{show}:" in result.stderr and "nothing was played or written" in result.stderr
    assert show.read_text() == before
    assert not list(show.parent.glob(".*partial"))


def test_bars_of_another_length_are_laid_where_the_accents_say_and_a_drift_is_flagged() -> None:
    evidence = np.full(8 * 6 + 7 * 4 + 8 * 6, -0.5)
    lines = [*range(0, 48, 8), *range(48, 76, 7), *range(76, 124, 8)]  # six bars of 8 eighths, four of 7, six of 8
    evidence[lines] = 2.0
    assert lay_bars(evidence, 8) == (8,) * 6 + (7,) * 4 + (8,) * 6
    assert drifting_bars(evidence, (8,) * 16) == tuple(range(7, 16))  # kept in 4/4, the bar lines stop fitting from bar 8 on
    assert drifting_bars(evidence, lay_bars(evidence, 8)) == ()
    steady = np.full(128, -0.5)
    steady[::8] = 2.0
    steady[37] = 3.0  # one stray accent changes nothing
    assert lay_bars(steady, 8) == (8,) * 16 and drifting_bars(steady, (8,) * 16) == ()


@pytest.fixture(scope="module")
def demo_show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo show in a folder of its own, its tracks synthesised from its own tempo maps (`showcontrol demo`)."""
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "hardware", root / "hardware")
    (root / "cues" / "demo").mkdir(parents=True)
    show = root / "cues" / "demo" / "show.yaml"
    shutil.copy(REPO / "cues" / "demo" / "show.yaml", show)
    made = showcontrol("demo", str(show))
    assert made.returncode == 0, made.stderr
    return show


def assert_bar_lines_match_the_show(draft: Draft, show: Path, count_in: float = 0.0) -> None:
    """Every bar line of the draft's map within 20 ms of the show's (`count_in`: seconds a render plays before the track)."""
    truth = load_show(show).timelines["neon-nights"].tempo
    drafted = TempoMap(draft.tempo, draft.first_downbeat, 480)
    bars = len(draft.bar_confidence)
    assert bars == 36
    errors = [abs(float(drafted.seconds(BarBeat(bar, 1)) - count_in - truth.seconds(BarBeat(bar, 1)))) for bar in range(1, bars + 1)]
    assert max(errors) < 0.020, [f"bar {bar}: {error * 1000:.0f} ms" for bar, error in enumerate(errors, start=1) if error >= 0.020]


def test_the_demo_songs_7_8_bridge_and_ramp_are_drafted_where_the_show_has_them(demo_show: Path) -> None:
    draft = draft_for_file(demo_show.parent / "tracks" / "neon-nights.flac", Hints())
    meters = [(c.bar, str(c.meter), c.meter.groups) for c in draft.tempo if c.bar in (1, 21, 25)]
    assert meters == [(1, "4/4", (1, 1, 1, 1)), (21, "7/8", (2, 2, 3)), (25, "4/4", (1, 1, 1, 1))]  # the show's own 7/8 = 2+2+3
    assert any(w.startswith("bars 21-24: 7/8") for w in draft.warnings), draft.warnings
    [ramp] = [c for c in draft.tempo if c.ramp_bars]
    assert (ramp.bar, ramp.ramp_bars) == (25, 4) and abs(float(ramp.quarter_bpm) - 132) < 0.3
    assert_bar_lines_match_the_show(draft, demo_show)


def test_a_rendered_mix_is_analysed_on_its_track_channels_and_its_click_and_ltc_named(demo_show: Path, tmp_path: Path) -> None:
    mix = tmp_path / "neon-nights-mix.wav"
    rendered = showcontrol("render", str(demo_show), "--song", "neon-nights", "-o", str(mix))
    assert rendered.returncode == 0, rendered.stderr
    draft = draft_for_file(mix, Hints())
    assert any("analysed channels 1 and 2 only (the others: 3: a click, 4: LTC, 5: silent, 6: silent)" in w for w in draft.warnings), (
        draft.warnings
    )
    assert_bar_lines_match_the_show(draft, demo_show, count_in=1.5)  # the render's count-in: a bar at 120, less the track's own 0.5 s lead
    everything = showcontrol("analyze", str(mix), "--channels", "1,2,3,4")
    assert everything.returncode == 0, everything.stderr
    assert "channel 3 looks like a click" in everything.stderr and "channel 4 looks like LTC" in everything.stderr
    outside = showcontrol("analyze", str(mix), "--channels", "7")
    assert outside.returncode == 1 and "has channels 1-6" in outside.stderr
