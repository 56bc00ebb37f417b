"""Rehearsal tempo changed inside a running show: made ready in the background (stretched, pitch kept),
swapped in while stopped, cues following at the new tempo; 100 % (the standby version of a --song run)
comes back at once, other tempos played before from the stretch cache; and the keys of `run` (NN%, -, +) drive it. In process, SDL's dummy driver, a real UDP receiver."""

from __future__ import annotations

import io
import itertools
import json
import os
import pty
import statistics
import termios
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import write_tone
from peers import UdpReceiver, wait_until
from pythonosc.osc_message import OscMessage

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.engine.transport import State
from showcontrol.errors import ShowControlError
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.ui.console import run_terminal


def tone_show(folder: Path, osc_port: int) -> Path:
    write_tone(folder / "tone.wav", 4.0, rate=48000, channels=1)
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {track: 1, click: 2}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}\n"
    )
    cues = "\n".join(
        f"      - {{at: {bar}.{beat}, osc: {{to: lights, address: /beat, args: [{bar}, {beat}]}}}}"
        for bar in (1, 2)
        for beat in range(1, 5)
    )
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    end: 3.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    return show


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    receiver = UdpReceiver()
    options = RunOptions("s", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    with ShowRunner(load_show(tone_show(tmp_path, receiver.port)), options) as runner:
        yield runner, receiver
    receiver.close()


def play_through(runner: ShowRunner, receiver: UdpReceiver) -> float:
    """Play the song from the top; the median time between its beat cues' deadlines, as the show logged them
    from the audio clock (their arrival here would be dated by a receiving thread a loaded machine holds)."""
    receiver.clear()
    assert runner.options.log_path is not None
    log = runner.options.log_path
    logged = lambda: [r for r in map(json.loads, log.read_text().splitlines()) if r.get("kind") == "osc"]  # noqa: E731
    before = len(logged())
    runner.play()
    wait_until(lambda: runner.segment.state is State.PLAYING)
    wait_until(lambda: runner.segment.state is State.STOPPED)
    wait_until(lambda: len(receiver.datagrams) == 8 and len(logged()) == before + 8)
    assert [tuple(OscMessage(d).params) for _, d in receiver.datagrams] == [(bar, beat) for bar in (1, 2) for beat in range(1, 5)]
    deadlines = [r["scheduled"] for r in logged()[before:]]
    return statistics.median(b - a for a, b in itertools.pairwise(deadlines))


def test_a_new_tempo_is_made_ready_in_the_background_and_played_from_the_next_start(running) -> None:
    runner, receiver = running
    at_100 = play_through(runner, receiver)
    original = runner.timeline

    job = runner.set_tempo(Fraction(1, 2))
    assert job is not None and 0 <= job.progress(time.monotonic()) < 1
    wait_until(lambda: job.version is not None or job.error is not None, timeout=120)
    assert job.error is None and job.progress(time.monotonic()) == 1
    assert runner.apply_pending_tempo() and runner.tempo == Fraction(1, 2)
    assert runner.timeline.sample_rate == 96000 and runner.timeline.end_frame == 2 * original.end_frame
    assert len(runner.player.stems["track"].data) == runner.timeline.end_frame  # the stretched track, twice as long
    at_50 = play_through(runner, receiver)
    assert 1.5 < at_50 / at_100 < 2.7  # half the tempo: beats twice as far apart (a ratio: the dummy driver's pace drifts)

    assert runner.set_tempo(Fraction(1)) is None  # 100 % is kept ready: switched at once
    assert runner.tempo == 1 and runner.timeline is original
    again = runner.set_tempo(Fraction(1, 2))  # forgotten (only the playing and the standby versions stay): from the disk cache
    assert again is not None
    wait_until(lambda: again.version is not None, timeout=60)
    assert runner.apply_pending_tempo() and runner.tempo == Fraction(1, 2)


def test_a_tempo_ready_while_playing_waits_for_the_stop(running) -> None:
    runner, _ = running
    runner.play()
    wait_until(lambda: runner.segment.state is State.PLAYING)
    runner.pause()
    wait_until(lambda: runner.segment.state is State.PAUSED)
    job = runner.set_tempo(Fraction(3, 4))
    assert job is not None
    wait_until(lambda: job.version is not None, timeout=120)
    assert not runner.apply_pending_tempo() and runner.tempo == 1  # never under a paused take
    runner.stop()
    wait_until(lambda: runner.segment.state is State.STOPPED)
    assert runner.apply_pending_tempo() and runner.tempo == Fraction(3, 4)
    runner.loop(2, 2)
    assert runner.set_tempo(Fraction(1)) is None and runner.loop_bars == (2, 2)  # a loop is bars: it stays set
    bar_2_to_3 = (runner.timeline.tempo.frame(BarBeat(2), 48000), runner.timeline.tempo.frame(BarBeat(3), 48000))
    wait_until(lambda: runner.transport.loop == bar_2_to_3)  # taken by the audio callback
    with pytest.raises(ShowControlError, match="outside 50-200"):
        runner.set_tempo(Fraction(3))


def test_the_keys_of_run_change_the_tempo(running) -> None:
    runner, _ = running
    controller, terminal = pty.openpty()
    screen = io.StringIO()
    failures: list[BaseException] = []

    def console_thread(keys: io.TextIOWrapper) -> None:
        try:
            run_terminal(runner, keys, screen)
        except BaseException as error:  # shown by the test, not lost in a thread
            failures.append(error)
            raise

    def console_reached(condition: Callable[[], bool]) -> bool:
        job = runner.tempo_job
        if job is not None and job.error:
            raise AssertionError(f"tempo {job.tempo} failed: {job.error}\n{screen.getvalue()}")
        if failures:
            raise AssertionError(f"the console died: {failures[0]!r}\n{screen.getvalue()}") from failures[0]
        return bool(condition())

    with os.fdopen(terminal, "r") as keys:
        console = threading.Thread(target=console_thread, args=(keys,), daemon=True)
        console.start()
        wait_until(lambda: console_reached(lambda: not termios.tcgetattr(keys.fileno())[3] & termios.ICANON))
        os.write(controller, b"80%")
        wait_until(lambda: console_reached(lambda: runner.tempo == Fraction(4, 5)), timeout=120)  # made ready, applied while stopped
        os.write(controller, b"+")
        wait_until(lambda: console_reached(lambda: runner.tempo == Fraction(17, 20)), timeout=120)
        os.write(controller, b"q")
        console.join(10)
    os.close(controller)
    assert not console.is_alive(), screen.getvalue()
    assert not console.is_alive() and not failures
    assert "making 80 % ready" in screen.getvalue() and "making 85 % ready" in screen.getvalue()


def test_only_the_playing_and_the_standby_versions_stay_in_memory(running) -> None:
    runner, _ = running
    for tempo in (Fraction(1, 2), Fraction(3, 4), Fraction(4, 5)):
        job = runner.set_tempo(tempo)
        assert job is not None
        wait_until(lambda job=job: job.version is not None, timeout=120)
        assert runner.apply_pending_tempo() and runner.tempo == tempo
    assert set(runner._versions) == {("s", Fraction(4, 5)), ("s", Fraction(1))}  # playing, and the song's own (standby)


def test_a_tempo_that_cannot_be_made_ready_says_why(running) -> None:
    """Whatever goes wrong in the background (here in the stem maker's process: the track is gone by the time
    it reads it, which is after its interpreter started), the job reports it instead of hanging at 99 %, and
    the show carries on at the tempo it had."""
    runner, _ = running
    job = runner.set_tempo(Fraction(3, 5))
    runner.timeline.tracks[0].track.audio.unlink()
    assert job is not None
    wait_until(lambda: job.error is not None, timeout=60)
    assert job.error is not None and "tone.wav" in job.error
    assert not runner.apply_pending_tempo() and runner.tempo == 1
