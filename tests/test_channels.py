"""Every channel lands where the patch says, through a real sound server (PipeWire, SDL's pulseaudio driver):
null sinks of 2, 4, 6 and 8 AUX channels (a Pro Audio interface) and of 4.0 and 7.1 layouts, each captured
per channel with `pw-record` and an explicit channel map. The click is only on its channel, LTC decodes
(libltc) only on its own, the track is only on its two; where a layout cannot take the patch's channels
1:1, `check` and `run` say which feeds will not be heard, and they are not heard anywhere else either."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import libltc
import numpy as np
import pytest
import soundfile
from conftest import mostly_at, run_show_to_the_end, showcontrol, write_tone

AUX = "AUX0,AUX1,AUX2,AUX3,AUX4,AUX5,AUX6,AUX7"
LAYOUTS = {  # sink -> (its positions, the patch's routes, the 1-based channels it cannot take 1:1)
    "aux2": (AUX[:9], {"track": [1, 2]}, ()),
    "aux4": (AUX[:19], {"track": [1, 2], "click": [3], "ltc": [4]}, ()),
    "aux6": (AUX[:29], {"track": [1, 2], "click": [5], "ltc": [6]}, ()),
    "aux8": (AUX, {"track": [1, 2], "click": [7], "ltc": [8]}, ()),
    "quad": ("FL,FR,RL,RR", {"track": [1, 2], "click": [3], "ltc": [4]}, (3, 4)),
    "surround71": ("FL,FR,FC,LFE,RL,RR,SL,SR", {"track": [1, 2], "click": [7], "ltc": [8]}, (7, 8)),
}
LTC_LEVEL = 0.05


def write_show(folder: Path, device: str, channels: int, routes: dict[str, list[int]]) -> Path:
    write_tone(folder / "tone.wav", 4.0, freq=220.0)
    (folder / "patch.yaml").write_text(
        f"version: 1\naudio: {{device: {device}, sample_rate: 48000, channels: {channels}, buffer_frames: 256, routes: {json.dumps(routes)}}}\n"
    )
    show = folder / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    end: 4s\n"
        "    tempo: [{bar: 1, bpm: 120}]\n    timecode: {rate: 25, start: '01:00:00:00'}\n"
    )
    return show


def make_sink(sound_server, name: str, positions: str) -> None:
    count = len(positions.split(","))
    properties = (
        f"{{ factory.name=support.null-audio-sink node.name={name} media.class=Audio/Sink object.linger=true "
        f"audio.channels={count} audio.position=[{positions.replace(',', ' ')}] }}"
    )
    subprocess.run(
        ["pw-cli", "create-node", "adapter", properties], env={**os.environ, **sound_server.env}, capture_output=True, timeout=60
    )
    deadline = time.monotonic() + 60
    while name not in sound_server.pactl("list", "short", "sinks").stdout:
        assert time.monotonic() < deadline, f"sink {name} did not appear"
        time.sleep(0.1)


def feed_of(channel: np.ndarray, ltc: list[libltc.DecodedFrame]) -> str:
    """What a captured channel carries: silence, LTC (decodes), the track (a 220 Hz tone) or clicks."""
    sounding = np.flatnonzero(np.abs(channel) > 1e-4)
    if not len(sounding):
        return "silence"
    if len(ltc) > 10:
        return "ltc"
    return "track" if mostly_at(channel[sounding[0] : sounding[-1] + 1], 220) else "click"


@pytest.mark.skipif(shutil.which("pw-record") is None or libltc.load() is None, reason="needs pw-record (pipewire-bin) and libltc")
@pytest.mark.parametrize("sink", list(LAYOUTS))
def test_each_feed_lands_on_its_channel_and_nowhere_else(sound_server, tmp_path: Path, sink: str) -> None:
    positions, routes, cannot = LAYOUTS[sink]
    channels = len(positions.split(","))
    name = f"{sink}{os.getpid()}"  # a sink per test run: PipeWire keeps lingering nodes
    make_sink(sound_server, name, positions)
    show = write_show(tmp_path, name, channels, routes)
    env = {**os.environ, **sound_server.env}
    capture = tmp_path / "capture.wav"
    recorder = subprocess.Popen(
        ["pw-record", "--target", name, "-P", "{ stream.capture.sink=true }", "--channels", str(channels),
         "--channel-map", positions, "--format", "f32", "--rate", "48000", str(capture)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        checked = showcontrol("check", str(show), env=env)
        result = run_show_to_the_end(show, env=env, driver="pulseaudio")
        time.sleep(0.3)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(10)
    assert checked.returncode == 0 and result.returncode == 0, checked.stderr + result.stderr
    audio, _ = soundfile.read(capture, dtype="float32", always_2d=True)
    lib = libltc.load()
    assert lib is not None
    heard = [feed_of(audio[:, k], libltc.decode(lib, audio[:, k], 48000 / 25)) for k in range(channels)]
    expected = {k: "silence" for k in range(1, channels + 1)}
    for feed, where in routes.items():
        for k in where:
            expected[k] = "silence" if k in cannot else feed
    assert heard == [expected[k] for k in range(1, channels + 1)], heard
    for output in (checked.stderr, result.stderr):  # the operator is told before the show, and when it opens
        assert ("will not be heard" in output) == bool(cannot), output
        if cannot:
            assert "Pro Audio profile" in output and "JACK, which is 1:1 by port" in output and "backend: jack, ports:" in output
    assert ("not heard (the device's layout): " in result.stdout) == bool(cannot), result.stdout  # and the run's report


def test_check_warns_of_a_patch_device_the_sound_server_does_not_have(sound_server, tmp_path: Path) -> None:
    name = f"here{os.getpid()}"
    make_sink(sound_server, name, "FL,FR")
    env = {**os.environ, **sound_server.env}
    for device, absent in ((name, False), (f"gone{os.getpid()}", True)):
        checked = showcontrol("check", str(write_show(tmp_path, device, 2, {"track": [1, 2]})), env=env)
        assert checked.returncode == 0, checked.stderr
        assert (f"the patch's audio device {device!r} is not among this machine's sound server's outputs now" in checked.stderr) == absent
        assert checked.stdout.rstrip().endswith(f"{2 + absent} warning(s)"), checked.stdout + checked.stderr  # and no click, no LTC routed


def test_devices_shows_each_outputs_layout(sound_server) -> None:
    make_sink(sound_server, f"quadview{os.getpid()}", "FL,FR,RL,RR")
    result = subprocess.run(
        [sys.executable, "-m", "showcontrol", "devices"], env={**os.environ, **sound_server.env, "SDL_AUDIODRIVER": "pulseaudio"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if f"quadview{os.getpid()}" in line)
    assert "front-left,front-right,rear-left,rear-right: streams of up to 2 channels land 1:1" in line


@pytest.mark.parametrize(
    ("layout", "channels", "lost"),
    [
        ("aux0,aux1,aux2,aux3", 4, ()),
        ("aux0,aux1,aux2,aux3", 6, (5, 6)),
        ("front-left,front-right", 2, ()),
        ("front-left,front-right,rear-left,rear-right", 4, (3, 4)),
        ("front-left,front-right,front-center,lfe,rear-left,rear-right", 6, ()),
        ("front-left,front-right,front-center,lfe,rear-left,rear-right,side-left,side-right", 8, (7, 8)),
        ("mono", 2, (1, 2)),
    ],
)
def test_which_channels_a_layout_takes_one_to_one(layout: str, channels: int, lost: tuple[int, ...]) -> None:
    from showcontrol.audio.channel_map import undelivered

    assert undelivered(tuple(layout.split(",")), channels) == lost


def test_the_warning_names_the_feeds_that_would_not_be_heard() -> None:
    from showcontrol.audio.channel_map import layout_warning

    quad = ("front-left", "front-right", "rear-left", "rear-right")
    warning = layout_warning("Scarlett", quad, {"track": (0, 1), "click": (2,), "ltc": (3,)}, 4)
    assert warning is not None and "click on 3, ltc on 4 will not be heard" in warning and "reaches only 2" in warning
    assert "JACK, which is 1:1 by port: set the patch's `audio: {backend: jack, ports: {3: PORT, 4: PORT, ...}}`" in warning
    assert layout_warning("Scarlett", quad, {"track": (0, 1)}, 4) is None  # nothing routed to 3-4


@pytest.mark.skipif(
    shutil.which("pw-record") is None or shutil.which("pw-jack") is None or libltc.load() is None,
    reason="needs pw-record (pipewire-bin), pw-jack (pipewire-jack) and libltc",
)
def test_the_fix_the_warning_gives_jack_takes_a_quad_device_1_to_1(sound_server, tmp_path: Path) -> None:
    """The fix the layout warning names, with the patch lines docs/audio.md gives: the same 4 channels into
    a 4.0 device, through PipeWire's JACK with each channel's port named, land 1:1 (click and LTC on the rear
    outputs SDL could not reach), and `check` no longer warns."""
    from test_jack_backend import PERIOD, run_or_show_where_it_hangs

    positions, routes, _ = LAYOUTS["quad"]
    name = f"quadjack{os.getpid()}"
    make_sink(sound_server, name, positions)
    show = write_show(tmp_path, name, 4, routes)
    ports = {k + 1: f"{name}:playback_{position}" for k, position in enumerate(positions.split(","))}
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 4, buffer_frames: {PERIOD}, "
        f"routes: {json.dumps(routes)}, ports: {json.dumps(ports)}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env
    subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", str(PERIOD)], env=env, capture_output=True, timeout=30)
    capture = tmp_path / "capture.wav"
    recorder = subprocess.Popen(
        ["pw-record", "--target", name, "-P", "{ stream.capture.sink=true }", "--channels", "4",
         "--channel-map", positions, "--format", "f32", "--rate", "48000", str(capture)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        checked = showcontrol("check", str(show), env=env)
        command = ["pw-jack", sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--log", str(tmp_path / "show.jsonl")]
        result = run_or_show_where_it_hangs(command, env)
        time.sleep(0.3)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(10)
        subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", "0"], env=env, capture_output=True, timeout=30)
    assert checked.returncode == 0 and result.returncode == 0, checked.stderr + result.stderr
    assert "will not be heard" not in checked.stderr + result.stderr
    audio, _ = soundfile.read(capture, dtype="float32", always_2d=True)
    lib = libltc.load()
    assert lib is not None
    assert [feed_of(audio[:, k], libltc.decode(lib, audio[:, k], 48000 / 25)) for k in range(4)] == ["track", "track", "click", "ltc"]
