"""Rehearsal tempo: a 75 % render is 1/0.75 as long, keeps its pitch (within 5 cents), puts every cue and
click on its frame scaled by 1/0.75, and the stretched track is cached for the next rehearsal."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import soundfile
from conftest import BURST_FRAMES, beat_bursts, burst_centroids, write_tone

from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.timeline.tempo import frame_at

PATCH = "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {track: 1, click: 2}}\noutputs:\n  lights: {type: osc, host: 127.0.0.1, port: 9000}\n"
SHOW = """version: 1
patch: patch.yaml
songs:
  - id: rehearse
    audio: tone.wav
    first_downbeat: 0.5
    end: 5.1
    tempo: [{bar: 1, bpm: 120}, {bar: 3, meter: 7/8}]
    cues:
      - {at: 1.1, osc: {to: lights, address: /a}}
      - {at: 2.3.240, osc: {to: lights, address: /b}}
      - {at: 4.5, osc: {to: lights, address: /c}}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tempo")
    write_tone(folder / "tone.wav", 9.0, rate=44100, channels=1, freq=440.0)
    (folder / "patch.yaml").write_text(PATCH)
    (folder / "show.yaml").write_text(SHOW)
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}

    def render(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "showcontrol", "render", str(folder / "show.yaml"), "-o", str(folder / "out.wav"), *extra]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    first = render("--trace", str(folder / "trace.jsonl"), "--tempo", "75")
    assert first.returncode == 0, first.stderr
    audio, rate = soundfile.read(str(folder / "out.wav"), dtype="float32")
    trace = [json.loads(line) for line in (folder / "trace.jsonl").read_text().splitlines()]
    again = render("--tempo", "75")
    return folder, audio, rate, trace, first.stderr, again.stderr


def test_length_is_scaled_by_one_over_the_tempo(rendered) -> None:
    folder, audio, rate, *_ = rendered
    normal = load_show(folder / "show.yaml").timelines["rehearse"]
    assert rate == 48000
    assert len(audio) == math.floor((normal.end_frame - normal.start_frame) / Fraction(3, 4) + Fraction(1, 2))


def test_pitch_is_kept_within_5_cents(rendered) -> None:
    _, audio, rate, *_ = rendered
    piece = audio[rate : 4 * rate, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece)), 64 * len(piece)))
    peak = np.argmax(spectrum) * rate / (64 * len(piece))
    assert abs(1200 * math.log2(peak / 440.0)) < 5


def test_every_cue_and_click_lands_on_its_frame_scaled(rendered) -> None:
    folder, audio, _, trace, *_ = rendered
    tempo = load_show(folder / "show.yaml").timelines["rehearse"].tempo
    at_75 = Fraction(48000) / Fraction(3, 4)  # timeline frames per song second at 75 %
    cues = [e for e in trace if e["kind"] == "osc"]
    assert [e["song_frame"] for e in cues] == [frame_at(tempo.seconds(BarBeat(*p)), at_75) for p in ((1, 1, 0), (2, 3, 240), (4, 5, 0))]
    assert all(abs(e["time"] - t) < 2e-5 for e, t in zip(cues, (0.5, 3.75, 7.25), strict=True))  # the trace keeps song time
    click = audio[:, 1]
    onsets = [i for i in range(1, len(click)) if click[i] != 0 and click[i - 1] == 0 and not click[max(0, i - 2000) : i - 1].any()]
    beats = [e["frame"] for e in trace if e["kind"] == "click"]
    assert onsets == beats  # the click sounds exactly where the trace says


def test_the_second_rehearsal_at_that_tempo_uses_the_cache(rendered) -> None:
    folder, *_, first_log, again_log = rendered
    assert "stretched and cached" in first_log and "from the cache" in again_log
    assert len(list((folder / "cache" / "showcontrol" / "stretched").glob("*.flac"))) == 1


def test_the_stretched_track_keeps_every_beat_under_its_click(tmp_path) -> None:
    """At 90 % a track of beat bursts must sound each burst where the trace puts that beat, all the way through
    (Rubber Band's R3 engine moved them by up to 115 ms mid-track at this ratio, and back by the end)."""
    soundfile.write(str(tmp_path / "beats.wav"), beat_bursts(40, 120, 0.5, 21.0).astype(np.float32), 48000, subtype="FLOAT")
    (tmp_path / "patch.yaml").write_text(PATCH)
    (tmp_path / "show.yaml").write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: beats.wav\n    first_downbeat: 0.5\n    end: 11.1\n"
        "    tempo: [{bar: 1, bpm: 120}]\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "showcontrol", "render", str(tmp_path / "show.yaml"), "-o", str(tmp_path / "out.wav")]
    result = subprocess.run(
        [*command, "--trace", str(tmp_path / "trace.jsonl"), "--tempo", "90", "--subtype", "FLOAT"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    audio, _ = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    beats = [e["frame"] for e in map(json.loads, (tmp_path / "trace.jsonl").read_text().splitlines()) if e["kind"] == "click"]
    expected = [frame + (BURST_FRAMES - 1) / 2 / 0.9 for frame in beats]
    errors_ms = [(found - want) / 48 for found, want in zip(burst_centroids(audio[:, 0], expected), expected, strict=True)]
    assert len(beats) == 40 and max(map(abs, errors_ms)) < 3, errors_ms
