"""Interrupting a number: on stop the track fades out over the configured time (equal-power, from
exactly where it was), while the click stops at once; driven through the real audio callback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import as_a, write_tone

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.audio.mix import fade_out
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.offline import build_stems
from showcontrol.timeline.events import ClickHit

BLOCK = 256


def test_stop_fades_the_track_and_cuts_the_click(tmp_path: Path) -> None:
    write_tone(tmp_path / "tone.wav", 6.0, rate=48000, channels=1)
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 3, buffer_frames: 256, routes: {track: [1, 2], click: 3}}\n"
    )
    (tmp_path / "show.yaml").write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    tempo: [{bar: 1, bpm: 120}]\n"
    )
    runner = ShowRunner(load_show(tmp_path / "show.yaml"), RunOptions("s", stop_fade_s=0.25))
    runner.player.stems = build_stems(runner.song, runner.timeline, runner.routes, runner.sounds)  # what entering would build
    track = runner.player.stems["track"].data[:, 0]

    blocks = []
    runner.play()
    for index in range(200):  # about a second of audio, the stop a quarter of the way in
        if index == 50:
            runner.stop()
        out = np.zeros((BLOCK, 3), np.float32)
        runner.player.render(index * BLOCK, out)
        blocks.append(out)
    audio = np.concatenate(blocks)
    stop = 50 * BLOCK
    fade = round(0.25 * 48000)
    assert np.array_equal(audio[:stop, 0], track[:stop])  # played as is up to the stop
    assert np.allclose(audio[stop : stop + fade, 0], track[stop : stop + fade] * fade_out(fade), atol=1e-6)  # then fades, no jump
    assert not audio[stop + fade :].any()  # and is silent after the fade
    assert audio[:stop, 2].any() and not audio[stop:, 2].any()  # the click stops at once
    assert np.array_equal(audio[:, 0], audio[:, 1])


def test_a_loop_wraps_to_the_frame_without_a_click_and_carries_on_when_released(tmp_path: Path) -> None:
    write_tone(
        tmp_path / "tone.wav", 8.0, rate=48000, channels=1, freq=230.25
    )  # half a cycle off across the 2-bar loop: a hard cut would click
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 3, buffer_frames: 256, routes: {track: [1, 2], click: 3}}\n"
    )
    (tmp_path / "show.yaml").write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    tempo: [{bar: 1, bpm: 240}]\n"
    )
    runner = ShowRunner(load_show(tmp_path / "show.yaml"), RunOptions("s"))
    runner.player.stems = build_stems(runner.song, runner.timeline, runner.routes, runner.sounds)
    track, click = runner.player.stems["track"].data[:, 0], runner.player.stems["click"].data[:, 0]
    start, end = 48000, 3 * 48000  # bars 2-3 at 240 bpm: a bar a second

    blocks = []
    runner.loop(2, 3)
    runner.play()
    for index in range(int(7.5 * 48000 / BLOCK)):  # bars 1-3, then bars 2-3 twice more, released during the last
        if index * BLOCK <= 5.5 * 48000 < (index + 1) * BLOCK:
            runner.release_loop()
        out = np.zeros((BLOCK, 3), np.float32)
        runner.player.render(index * BLOCK, out)
        blocks.append(out)
    audio = np.concatenate(blocks)
    seam = round(0.005 * 48000)
    for wrap in (end, end + (end - start)):  # the device frames where each pass ends
        assert np.array_equal(audio[wrap - 1000 : wrap, 2], click[end - 1000 : end])  # the pass plays to its last frame...
        assert np.array_equal(audio[wrap : wrap + 5000, 2], click[start : start + 5000])  # ...and the click restarts on the frame
        assert np.array_equal(audio[wrap + seam : wrap + 5000, 0], track[start + seam : start + 5000])
        steps = np.abs(np.diff(audio[wrap - 50 : wrap + seam + 50, 0]))
        assert steps.max() < 2 * np.abs(np.diff(track[:48000])).max()  # no step bigger than the tone's own: no click
    after = end + 2 * (end - start)  # released in the third pass: that pass ends, then bar 4 follows
    assert np.array_equal(audio[after : after + 5000, 2], click[end : end + 5000])
    assert np.array_equal(audio[after + 100 : after + 5000, 0], track[end + 100 : end + 5000])


def test_an_n_bar_count_in_at_the_target_bars_tempo(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(
        "version: 1\nsongs:\n  - id: s\n    end: 9.1\n    count_in: {bars: 1, voice: true}\n"
        "    tempo: [{bar: 1, bpm: 120}, {bar: 5, bpm: 150, meter: 3/4}]\n"
    )
    runner = ShowRunner(load_show(tmp_path / "show.yaml"), RunOptions("s", start=BarBeat(6), count_in_bars=2))
    plan = runner.play()
    bar_6 = runner.timeline.tempo.frame(BarBeat(6), 48000)
    counts = [as_a(ClickHit, e.payload).count for e in plan.count_in_events]
    assert plan.song_from_frame == bar_6 and counts == [1, 2, 3, 1, 2, 3]  # two bars of 3/4
    assert plan.start_frame == bar_6 - 2 * 3 * 48000 * 60 // 150  # at 150 bpm, the tempo of bar 6
