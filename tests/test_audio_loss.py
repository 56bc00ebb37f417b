"""The audio device failing under a running show, on a real sound server (PipeWire, played through SDL's
pulseaudio driver): a server that dies (an interface unplugged), one that hangs, and a device reopened.

The show must never run on silently, nor run ahead of audio that has stopped: the operator is told at
once, the show log records it, cues wait for a hung device and follow its audio after, and a lost
device is reopened while stopped without the song starting by itself."""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import time
from pathlib import Path

from conftest import start_show
from peers import Subscriber, UdpReceiver, wait_until
from test_transport_run import beat_show, received

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.audio.link import AudioHealth
from showcontrol.engine.transport import State
from showcontrol.load.show_file import load_show

BEATS = 4 * 16  # 16 bars at 240 BPM: a cue every 0.25 s for 16 s


def audio_records(log: Path) -> list[str]:
    return [r["result"] for r in map(json.loads, log.read_text().splitlines()) if r.get("kind") == "audio"]


def test_a_sound_server_that_dies_mid_song_is_reported_and_the_show_keeps_time(sound_server, broker, tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=16)
    with (tmp_path / "patch.yaml").open("a") as patch:  # and the performers' monitors
        patch.write(f"  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: stage/}}\n")
    monitors = Subscriber(broker.port, "stage/state/audio")
    process = start_show(show, driver="pulseaudio", env={**os.environ, **sound_server.env})
    try:
        wait_until(lambda: len(received(receiver)) >= 4)
        sound_server.kill_pulse()
        out, err = process.communicate(timeout=120)  # the song still ends by itself, on SDL's timer
    finally:
        process.kill()
        receiver.close()
        monitors.close()
    assert process.returncode == 1, err  # a service must see that nothing was heard
    assert "AUDIO LOST" in err and "is gone: nothing is heard" in err
    assert "now lost; AUDIO LOST at" in out
    assert audio_records(show.with_suffix(".jsonl")) == ["lost"]
    beats = [(bar, beat) for bar in range(1, 17) for beat in range(1, 5)]
    assert received(receiver) == beats  # lights and monitors went on, in time, every cue once
    assert [json.loads(payload)["health"] for _, _, payload in monitors.lines] == ["ok", "lost"]  # monitors were told


def test_a_hung_sound_server_holds_the_cues_and_they_follow_its_audio_after(sound_server, tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=16)
    log = show.with_suffix(".jsonl")
    process = start_show(show, driver="pulseaudio", env={**os.environ, **sound_server.env})
    try:
        wait_until(lambda: len(received(receiver)) >= 8)
        sound_server.hang_pulse(True)
        hung_at = time.time()
        time.sleep(2.0)
        resumed_at = time.time()
        sound_server.hang_pulse(False)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
        receiver.close()
    # When each cue left, as the show logged it (a receiving thread a loaded machine holds would date them late)
    sent = [r["sent"] for r in map(json.loads, log.read_text().splitlines()) if r.get("kind") == "osc"]
    during = [t for t in sent if hung_at + 0.2 < t < resumed_at]  # past the lead a cue may have
    assert during == []  # before, 8 cues went out into the frozen audio, and the rest ran 2 s ahead of it
    assert received(receiver) == [(bar, beat) for bar in range(1, 17) for beat in range(1, 5)]
    assert process.returncode == 1 and "AUDIO STALLED" in err and "takes audio again" in err
    assert audio_records(log) == ["stalled", "ok"]
    # After the hang the clock starts over on the audio that plays: deadlines a beat apart again at once. A clock
    # left to slew 2 s would put the gaps tens of ms off for seconds, the first ones most. A loaded machine moves
    # a callback, and so a deadline, now and then, by more than any bound a share of the gaps could be held to:
    # the median of the first eight tells the two apart (it takes four moved gaps to move it). Jitter: bench/.
    records = [json.loads(line) for line in log.read_text().splitlines()]
    resumed = next(i for i, r in enumerate(records) if r.get("result") == "ok")
    deadlines = [r["scheduled"] for r in records[resumed:] if r.get("kind") == "osc"]
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(deadlines[1:])]
    assert len(gaps_ms) > 10, gaps_ms
    assert 240 <= statistics.median(gaps_ms[:8]) <= 260, gaps_ms


def test_a_show_can_be_quit_while_its_sound_server_hangs(sound_server, tmp_path: Path) -> None:
    """Closing a device joins SDL's audio thread, which the hung server holds: the show must end anyway."""
    receiver = UdpReceiver()
    process = start_show(beat_show(tmp_path, receiver.port, bars=16), driver="pulseaudio", env={**os.environ, **sound_server.env})
    try:
        wait_until(lambda: len(received(receiver)) >= 4)
        sound_server.hang_pulse(True)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)  # it waited forever before
    finally:
        process.kill()
        receiver.close()
        sound_server.hang_pulse(False)
    assert process.returncode == 1, err
    assert "did not close within 2 s (its sound server hangs); left open" in err
    assert "AUDIO STALLED at" in out and "show log:" in out  # the report, all of it


def test_a_lost_device_is_reopened_while_stopped_and_plays_again(sound_server, tmp_path: Path, monkeypatch) -> None:
    for name, value in sound_server.env.items():
        monkeypatch.setenv(name, value)
    receiver = UdpReceiver()
    loaded = load_show(beat_show(tmp_path, receiver.port, bars=40))
    log = tmp_path / "show.jsonl"
    try:
        with ShowRunner(loaded, RunOptions("beats", audio_driver="pulseaudio", log_path=log)) as runner:
            assert runner.driver == "pulseaudio"
            runner.play()
            wait_until(lambda: len(received(receiver)) >= 4)
            sound_server.kill_pulse()
            wait_until(lambda: runner.link.health is AudioHealth.LOST)
            assert runner.segment.state is State.PLAYING  # on SDL's timer: the show keeps time
            runner.stop()
            wait_until(lambda: runner.driver == "dummy")  # standing in while the server is away
            assert runner.link.health is AudioHealth.LOST
            sound_server.start_pulse()
            wait_until(lambda: runner.link.health is AudioHealth.OK, timeout=60)
            assert runner.driver == "pulseaudio" and "nullsink" in runner.device.name
            time.sleep(0.3)
            assert runner.segment.state is State.STOPPED  # back, but never playing by itself
            count = len(received(receiver))
            frames = runner.device.frames_delivered
            runner.play()
            wait_until(lambda: len(received(receiver)) >= count + 4)
            assert runner.device.frames_delivered > frames  # the reopened device plays the song
    finally:
        receiver.close()
    assert audio_records(log) == ["lost", "ok"]
