"""Playback speed for film work: a render at 2x (slow-motion playback) and at pull-down (-0.1 %) moves
audio, click, cues, MIDI clock and timecode together, to the frame."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import libltc
import numpy as np
import pytest
import soundfile
from conftest import showcontrol, write_tone

from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.timeline.tempo import frame_at

PATCH = """version: 1
audio: {sample_rate: 48000, channels: 3, routes: {track: 1, click: 2, ltc: 3}}
outputs:
  sync: {type: midi, port: sequencer, clock: true}
  lights: {type: osc, host: 127.0.0.1, port: 9000}
"""
SHOW = """version: 1
patch: patch.yaml
songs:
  - id: film
    audio: tone.wav
    tempo: [{bar: 1, bpm: 120}]
    end: 5.1
    timecode: {rate: 25, start: "10:00:00:00"}
    cues:
      - {at: 3.1, osc: {to: lights, address: /hit}}
"""


def render(folder: Path, speed: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    out, trace = folder / f"out-{speed}.wav", folder / f"trace-{speed}.jsonl"
    result = showcontrol("render", str(folder / "show.yaml"), "-o", str(out), "--trace", str(trace), "--speed", speed)
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 48000  # the interface's rate never changes; the song's frames per second do
    return [json.loads(line) for line in trace.read_text().splitlines()], audio


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("speed")
    write_tone(folder / "tone.wav", 9.0, rate=48000, channels=1, freq=440.0)
    (folder / "patch.yaml").write_text(PATCH)
    (folder / "show.yaml").write_text(SHOW)
    return folder


@pytest.mark.parametrize(("speed", "factor"), [("2", Fraction(2)), ("pulldown", Fraction(1000, 1001)), ("pullup", Fraction(1001, 1000))])
def test_everything_moves_together(folder: Path, speed: str, factor: Fraction) -> None:
    trace, audio = render(folder, speed)
    normal = load_show(folder / "show.yaml").timelines["film"]
    rate = Fraction(48000) / factor  # frames per song second at this speed
    assert len(audio) == frame_at(Fraction(8), rate)  # 4 bars at 120 bpm: 8 song seconds
    hit = next(e for e in trace if e["kind"] == "osc")
    assert hit["frame"] == frame_at(Fraction(4), rate) and abs(hit["time"] - 4.0) < 1e-5  # song time stays song time
    assert hit["song_frame"] != normal.tempo.frame(BarBeat(3), 48000)
    clicks = np.flatnonzero(np.abs(np.diff(np.concatenate([[0.0], audio[:, 1]]))) > 0)
    onsets = [f for i, f in enumerate(clicks) if i == 0 or f - clicks[i - 1] > 1000]
    assert onsets == [frame_at(Fraction(beat, 2), rate) for beat in range(16)]  # every beat, on its scaled frame
    clock = [e["frame"] for e in trace if e["kind"] == "sync"]
    assert len(clock) == 16 * 24 and clock[24] == frame_at(Fraction(1, 2), rate)


def test_the_track_plays_faster_and_higher_at_2x(folder: Path) -> None:
    _, audio = render(folder, "2")
    spectrum = np.abs(np.fft.rfft(audio[0:48000, 0]))
    assert np.argmax(spectrum) == 880  # varispeed, as film playback expects: twice as fast is an octave up


@pytest.mark.skipif(libltc.load() is None, reason="libltc11 not installed")
def test_timecode_runs_at_the_playback_speed(folder: Path) -> None:
    _, audio = render(folder, "2")
    frames = libltc.decode(libltc.load(), audio[:, 2], 48000 / 25 / 2)  # 50 LTC frames a real second
    labels = [f.label for f in frames]
    assert labels[0] == (10, 0, 0, 0) and len(labels) >= 195  # 8 song seconds of 25 fps in 4 real seconds
    counts = [((h * 60 + m) * 60 + s) * 25 + f for h, m, s, f in labels]
    assert counts == list(range(counts[0], counts[0] + len(counts)))  # every frame, none skipped
    assert abs(frames[1].off_start - 960) <= 3  # a frame every 960 samples: half of 1920
