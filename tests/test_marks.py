"""Marking while listening: markers snapped to the grid, tap tempo, the sidecar file written as they
happen by `run`'s keys (a real pty and SDL's dummy driver), and `merge` folding them into the show."""

from __future__ import annotations

import io
import os
import pty
import termios
import threading
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from conftest import as_a, showcontrol, write_tone
from peers import wait_until

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.engine.transport import State
from showcontrol.load.marks_file import marks_path, read_marks
from showcontrol.load.show_file import load_show
from showcontrol.marks import TapTempo, breath_targets, marker_at, snapped
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Meter, MqttAction, TempoChange
from showcontrol.timeline.tempo import TempoMap
from showcontrol.ui.console import run_terminal

FOUR = Meter(4, 4, (1, 1, 1, 1))
SEVEN = Meter(7, 8, (2, 2, 3))


def test_markers_snap_to_the_nearest_half_beat_and_carry_into_the_next_bar() -> None:
    tempo = TempoMap((TempoChange(1, Fraction(120), FOUR), TempoChange(3, Fraction(120), SEVEN)), Fraction(1, 2), 480)
    assert snapped(tempo, BarBeat(1, 2, 100)) == BarBeat(1, 2, 0)
    assert snapped(tempo, BarBeat(1, 2, 130)) == BarBeat(1, 2, 240)
    assert snapped(tempo, BarBeat(1, 4, 400)) == BarBeat(2, 1, 0)
    assert snapped(tempo, BarBeat(3, 7, 380)) == BarBeat(4, 1, 0)  # a 7/8 bar has seven beats
    at_bar_2 = float(tempo.seconds(BarBeat(2)))
    assert marker_at(tempo, at_bar_2 - 0.02, "b").at == BarBeat(2)  # pressed a little early: on the bar
    raw = marker_at(tempo, at_bar_2 - 0.02, "B")
    assert raw.raw and raw.at == raw.heard and raw.at.bar == 1


def test_tap_tempo_takes_the_median_and_starts_over_after_a_pause() -> None:
    taps = TapTempo()
    readings = [taps.tap(t) for t in (0.0, 0.5, 1.0, 1.62, 2.0, 2.5)]
    assert readings[0] is None and readings[-1] == pytest.approx(120)
    assert taps.tap(10.0) is None  # a pause: a new count


def test_a_breath_belongs_to_the_next_line() -> None:
    assert breath_targets([100, 500, 300], [250, 90, 600]) == [2, 0, None]


def marked_show(folder: Path) -> Path:
    write_tone(folder / "tone.wav", 12.0, rate=48000, channels=1)
    (folder / "patch.yaml").write_text("version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {track: [1, 2]}}\n")
    show = folder / "show.yaml"
    show.write_text(
        "version: 1  # a comment merge keeps\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    end: 9.1\n"
        "    tempo: [{bar: 1, bpm: 240}]\n    lyrics:\n      - {at: 5.1, text: Sing}\n"
    )
    return show


def test_run_keys_drop_markers_saved_as_they_happen(tmp_path: Path) -> None:
    show = marked_show(tmp_path)
    options = RunOptions("s", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    controller, terminal = pty.openpty()
    screen = io.StringIO()
    path = marks_path(show, "s")
    with ShowRunner(load_show(show), options) as runner, os.fdopen(terminal, "r") as keys:
        console = threading.Thread(target=run_terminal, args=(runner, keys, screen), daemon=True)
        console.start()
        wait_until(lambda: not termios.tcgetattr(keys.fileno())[3] & termios.ICANON)
        os.write(controller, b" ")
        wait_until(lambda: runner.segment.state is State.PLAYING)
        os.write(controller, b"c")
        wait_until(lambda: path.exists())
        os.write(controller, b"B")
        wait_until(lambda: len(yaml.safe_load(path.read_text())["markers"]) == 2)
        os.write(controller, b"tt")
        wait_until(lambda: "tap 2" in screen.getvalue())
        os.write(controller, b" ")
        wait_until(lambda: runner.segment.state is State.STOPPED)
        os.write(controller, b"q")
        console.join(10)
    os.close(controller)
    assert not console.is_alive()
    song, markers = read_marks(path)
    assert song == "s" and [kind for kind, _ in markers] == ["cue", "breath"]
    document = yaml.safe_load(path.read_text())
    assert document["markers"][0]["at"].endswith((".1", ".2", ".3", ".4", ".240"))  # snapped to a half beat
    assert document["markers"][1]["raw"] is True
    assert "cue marker 1 at" in screen.getvalue() and f"→ {path}" in screen.getvalue()  # a path to open


def test_merge_folds_markers_into_the_show_checked(tmp_path: Path) -> None:
    show = marked_show(tmp_path)
    marks = tmp_path / "show.s.marks.yaml"
    marks.write_text(
        "show: show.yaml\nsong: s\nmarkers:\n"
        "  - {kind: cue, at: '2.1'}\n  - {kind: cue, at: '3.3.240'}\n  - {kind: breath, at: '4.4.240'}\n"
        "  - {kind: lyric, at: '7.1'}\n  - {kind: breath, at: '6.4'}\n"
    )
    refused = showcontrol("merge", str(show), str(marks))
    assert refused.returncode == 2 and "--cue-action" in refused.stderr
    result = showcontrol(
        "merge", str(show), str(marks), "--cue-action", "mqtt: {to: monitors, topic: cue/{n}, payload: go}", "--first", "5"
    )
    assert result.returncode == 2 and "monitors" in result.stderr  # the patch has no such output: check refuses, nothing written
    assert "a comment merge keeps" in show.read_text() and "cue/5" not in show.read_text()
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {track: [1, 2]}}\n"
        "outputs:\n  monitors: {type: mqtt, host: 127.0.0.1, port: 1883}\n"
    )
    result = showcontrol(
        "merge", str(show), str(marks), "--cue-action", "mqtt: {to: monitors, topic: cue/{n}, payload: go}", "--first", "5"
    )
    assert result.returncode == 0, result.stderr
    assert "2 cues, 1 lyric lines, 2 breaths written" in result.stdout
    assert "cue 'mark 5' added at 2.1" in result.stdout and "breath 4.4.240 set on lyric line 1 (at 5.1)" in result.stdout
    assert "a comment merge keeps" in show.read_text()
    song = load_show(show).show.song("s")
    assert [(str(c.at), c.name, as_a(MqttAction, c.actions[0]).topic) for c in song.cues] == [
        ("2.1", "mark 5", "cue/5"),
        ("3.3.240", "mark 6", "cue/6"),
    ]
    assert [(str(lyric.at), lyric.text, str(lyric.breath)) for lyric in song.lyrics] == [
        ("5.1", "Sing", "4.4.240"),
        ("7.1", "(line at 7.1)", "6.4"),
    ]


def test_merge_keeps_a_written_breath_and_puts_new_lines_in_order(tmp_path: Path) -> None:
    show = marked_show(tmp_path)
    show.write_text(show.read_text() + "      - {at: 8.1, text: Later, breath: 7.4.240}\n")
    marks = tmp_path / "show.s.marks.yaml"
    marks.write_text(
        "show: show.yaml\nsong: s\nmarkers:\n  - {kind: breath, at: '7.3'}\n  - {kind: lyric, at: '6.1'}\n  - {kind: breath, at: '5.4'}\n"
    )
    result = showcontrol("merge", str(show), str(marks))
    assert result.returncode == 0, result.stderr
    assert "lyric line 2 (at 8.1) keeps its breath 7.4.240 (the marker says 7.3): --replace" in result.stderr
    assert "lyric line added at 6.1 (line 2)" in result.stdout and "breath 5.4 set on the new line at 6.1" in result.stdout
    assert "1 lyric lines, 1 breaths written, 1 markers not taken" in result.stdout
    song = load_show(show).show.song("s")
    assert [(str(lyric.at), str(lyric.breath)) for lyric in song.lyrics] == [("5.1", "None"), ("6.1", "5.4"), ("8.1", "7.4.240")]
    marks.write_text("show: show.yaml\nsong: s\nmarkers:\n  - {kind: breath, at: '7.3'}\n")
    result = showcontrol("merge", str(show), str(marks), "--replace")
    assert result.returncode == 0, result.stderr
    assert "breath of lyric line 3 (at 8.1) replaced: 7.4.240 -> 7.3" in result.stdout
    assert [str(lyric.breath) for lyric in load_show(show).show.song("s").lyrics] == ["None", "5.4", "7.3"]
