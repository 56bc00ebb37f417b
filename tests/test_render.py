"""`showcontrol render` end to end: files written, channels routed, click onsets exact to the sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import libltc
import numpy as np
import pytest
import soundfile
from conftest import showcontrol, write_tone

from showcontrol.audio.click import synthesize_hits
from showcontrol.load.show_file import load_show
from showcontrol.timeline.events import Kind

PATCH = """
version: 1
audio: {sample_rate: 48000, channels: 4, routes: {track: [1, 2], click: 3, ltc: 4}}
"""

SHOW = """
version: 1
patch: patch.yaml
songs:
  - id: test
    audio: {audio}
    first_downbeat: 0.25
    tempo:
      - {{bar: 1, bpm: 120, meter: 4/4}}
      - {{bar: 3, meter: 7/8, groups: [2, 2, 3]}}
      - {{bar: 4, bpm: 150, meter: 4/4, ramp_bars: 2}}
    count_in: {{bars: 1}}
    click: {{level_db: -6, subdivide: 1}}
    timecode: {{rate: 25, start: "01:00:00:00"}}
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return showcontrol(*args)


@pytest.fixture
def rendered(tmp_path: Path, show_dir):
    write_tone(tmp_path / "track.wav", 9.0, rate=44100, channels=1)
    show_dir("patch.yaml", PATCH)
    show = show_dir("show.yaml", SHOW.format(audio="track.wav"))
    result = run_cli("render", str(show), "-o", str(tmp_path / "out.wav"), "--trace", str(tmp_path / "trace.jsonl"), "--subtype", "FLOAT")
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    trace = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    return audio, rate, trace, load_show(show)


def test_click_onsets_are_sample_exact(rendered) -> None:
    audio, rate, trace, _loaded = rendered
    click = audio[:, 2]
    clicks = [e for e in trace if e["kind"] == "click"]
    assert len(clicks) == 4 + 8 + 7 + 7  # count-in, two 4/4 bars, every eighth of 7/8, the ramp until the 9 s track ends
    gain = 10 ** (-6 / 20)
    hits = synthesize_hits(rate)
    onsets = np.flatnonzero(np.abs(click) > 1e-6)
    starts = onsets[np.concatenate([[True], np.diff(onsets) > 200])]  # a hit crosses zero; hits are 3000+ apart
    assert [int(s) for s in starts] == [e["frame"] for e in clicks]
    for event in clicks:
        frame = event["frame"]
        assert click[frame] == pytest.approx(gain * hits[event["message"]["sound"]][0], rel=1e-6)
        assert click[frame - 1] == 0.0


def test_click_frames_follow_the_tempo_map(rendered) -> None:
    _, rate, trace, loaded = rendered
    timeline = loaded.timelines["test"]
    by_position = {e["position"]: e for e in trace if e["kind"] == "click"}
    origin = timeline.start_frame
    assert origin == round((0.25 - 2.0) * rate)  # one 4/4 bar of count-in before bar 1
    assert by_position["1.1.0"]["frame"] == round(0.25 * rate) - origin
    assert by_position["3.3.0"]["frame"] == round((0.25 + 4 + 0.5) * rate) - origin  # 7/8 pulse on beat 3
    assert by_position["1.1.0"]["message"] == {"sound": "accent"}
    assert by_position["3.5.0"]["message"] == {"sound": "beat"}
    ramp = [e["frame"] for e in trace if e["kind"] == "click" and e["position"].startswith(("4.", "5."))]
    gaps = np.diff(ramp)
    assert all(gaps[i] > gaps[i + 1] for i in range(len(gaps) - 1))  # accelerating


def test_track_is_resampled_and_routed(rendered) -> None:
    audio, _rate, _, loaded = rendered
    timeline = loaded.timelines["test"]
    assert len(audio) == timeline.end_frame - timeline.start_frame == round(9.0 * 48000) - timeline.start_frame
    silent_lead = -timeline.start_frame
    assert np.all(audio[:silent_lead, :2] == 0)
    assert np.array_equal(audio[silent_lead:, 0], audio[silent_lead:, 1])  # mono spread to both track channels
    spectrum = np.abs(np.fft.rfft(audio[silent_lead + 1000 : silent_lead + 49000, 0]))
    assert np.argmax(spectrum) == 440  # 1 Hz bins over one second: the tone survived 44.1k -> 48k


@pytest.mark.skipif(libltc.load() is None, reason="libltc11 not installed")
def test_ltc_in_the_render_decodes_from_its_start(rendered) -> None:
    audio, rate, _, loaded = rendered
    frames = libltc.decode(libltc.load(), audio[:, 3], rate / 25)
    origin = loaded.timelines["test"].start_frame
    first = frames[0]
    assert first.label == (0, 59, 58, 7)  # 01:00:00:00 at song frame 0; the file starts 1.75 s (43.75 frames) before
    assert first.off_start == (-43) * 1920 - origin  # the first whole frame inside the file
    assert len(frames) >= int(len(audio) / 1920) - 2


@pytest.mark.parametrize(("suffix", "rate"), [("wav", 48000), ("flac", 44100), ("ogg", 44100), ("mp3", 44100)])
def test_every_supported_format_loads(tmp_path: Path, show_dir, suffix: str, rate: int) -> None:
    write_tone(tmp_path / f"track.{suffix}", 3.0, rate=rate)
    show_dir("patch.yaml", PATCH)
    show = show_dir("show.yaml", SHOW.format(audio=f"track.{suffix}"))
    loaded = load_show(show)
    assert abs(loaded.timelines["test"].end_frame - 3 * 48000) < 48000 * 0.1  # mp3 may pad a frame
    result = run_cli("render", str(show), "-o", str(tmp_path / "out.flac"))
    assert result.returncode == 0, result.stderr
    assert soundfile.info(str(tmp_path / "out.flac")).channels == 4


def test_render_to_an_unwritable_place_is_a_clear_error(tmp_path: Path, show_dir) -> None:
    show = show_dir("show.yaml", "version: 1\nsongs: [{id: s, end: 3.1, tempo: [{bar: 1, bpm: 120}]}]\n")
    result = run_cli("render", str(show), "-o", str(tmp_path / "missing" / "out.wav"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_the_demo_show_checks_and_renders(tmp_path: Path) -> None:
    from conftest import REPO

    result = subprocess.run(
        [sys.executable, "-m", "showcontrol", "demo", "-o", str(tmp_path / "demo.wav")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    check = subprocess.run([sys.executable, "-m", "showcontrol", "check", "cues/demo/show.yaml"], capture_output=True, text=True, cwd=REPO)
    assert check.returncode == 0, check.stderr
    assert "neon-nights" in check.stdout and "slow-burn" in check.stdout
    loaded = load_show(REPO / "cues/demo/show.yaml")
    kinds = {e.kind for t in loaded.timelines.values() for e in t.events}
    assert {Kind.OSC, Kind.MIDI, Kind.MQTT, Kind.LYRIC, Kind.BREATH, Kind.SECTION} <= kinds


def test_a_fresh_checkout_synthesises_the_demo_tracks_with_the_demo_command_only(tmp_path: Path) -> None:
    """check writes nothing: it names the command that does; `demo SHOW` writes the tracks inside the show's folder."""
    from conftest import REPO

    (tmp_path / "cues" / "demo").mkdir(parents=True)
    (tmp_path / "hardware").mkdir()
    show = tmp_path / "cues/demo/show.yaml"
    shutil.copy(REPO / "cues/demo/show.yaml", show)
    shutil.copy(REPO / "hardware/demo-stage.yaml", tmp_path / "hardware/demo-stage.yaml")
    before = run_cli("check", str(show))
    assert before.returncode == 2
    assert f"does not exist yet — synthesise the demo's tracks with: showcontrol demo {show}" in before.stderr
    assert not (tmp_path / "cues/demo/tracks").exists()
    made = run_cli("demo", str(show))
    assert made.returncode == 0, made.stderr
    assert "synthesised" in made.stdout
    assert sorted(p.name for p in (tmp_path / "cues/demo/tracks").iterdir()) == [
        "midnight-drive.flac",
        "neon-nights.flac",
        "slow-burn.flac",
    ]
    after = run_cli("check", str(show))
    assert after.returncode == 0, after.stderr
    assert "OK: 3 song(s)" in after.stdout
