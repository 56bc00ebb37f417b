"""The JACK backend on jackd's dummy backend: a port per patch channel named after what it carries, connected
to the patch's destinations (again when one comes back), each captured by a real JACK client; and a server
that dies under the show, reported as a lost device while the show keeps time."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import libltc
import numpy as np
import pytest
from conftest import start_show, write_tone
from peers import _start_jack

jack = pytest.importorskip("jack")
PERIOD = 1024  # the jack fixture's period


def write_show(folder: Path, recorder: str, period: int = PERIOD) -> Path:
    write_tone(folder / "tone.wav", 6.0, freq=220.0)
    ports = {k: f"{recorder}:in_{k}" for k in (1, 2, 3, 4)}
    (folder / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 5, buffer_frames: {period}, "
        f"routes: {{track: [1, 2], click: 3, ltc: 4, clicks: {{ava: 5}}}}, ports: {json.dumps(ports)}}}\n"
    )
    show = folder / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    audio: tone.wav\n    end: 6s\n    tempo: [{bar: 1, bpm: 120}]\n"
        "    timecode: {rate: 25, start: '01:00:00:00'}\n    click: {feeds: {ava: {subdivide: 2}}}\n"
    )
    return show


class Recorder:
    """A JACK client with an input port per channel, keeping all it is given."""

    def __init__(self, name: str, channels: int) -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.ports = [self.client.inports.register(f"in_{k + 1}") for k in range(channels)]
        self.blocks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        block = np.stack([port.get_array().copy() for port in self.ports], axis=1)
        with self._lock:
            self.blocks.append(block)

    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.blocks) if self.blocks else np.zeros((0, len(self.ports)), np.float32)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def feed_of(channel: np.ndarray, lib) -> str:  # type: ignore[no-untyped-def]
    sounding = np.flatnonzero(np.abs(channel) > 1e-4)
    if not len(sounding):
        return "silence"
    if len(libltc.decode(lib, channel, 48000 / 25)) > 10:
        return "ltc"
    played = channel[sounding[0] : sounding[-1] + 1]
    peak_hz = np.argmax(np.abs(np.fft.rfft(played))) * 48000 / len(played)
    return "track" if abs(peak_hz - 220) < 2 else "click"


@pytest.mark.skipif(libltc.load() is None, reason="needs libltc (libltc11)")
def test_each_channel_is_a_named_port_connected_where_the_patch_says(jack, tmp_path: Path) -> None:
    recorder_name = f"rec{os.getpid()}"
    show = write_show(tmp_path, recorder_name)
    process = start_show(show, driver=None)
    try:
        deadline = time.monotonic() + 30
        while "showcontrol:ltc" not in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.splitlines()
        recorder = Recorder(recorder_name, 4)  # it comes after the show opened: connected when it appears
        out, err = process.communicate(timeout=60)
        recorder.close()
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert {"showcontrol:track L", "showcontrol:track R", "showcontrol:click", "showcontrol:ltc", "showcontrol:click ava"} <= set(ports)
    assert "audio: JACK showcontrol (jack), now ok" in out
    audio = recorder.audio()
    lib = libltc.load()
    assert [feed_of(audio[:, k], lib) for k in range(4)] == ["track", "track", "click", "ltc"]


def test_a_jack_server_that_dies_mid_song_is_reported_and_the_show_keeps_time(tmp_path: Path) -> None:
    before = dict(os.environ)
    server = _start_jack(f"scdie{os.getpid()}", "-r")  # a server of its own: this one is killed
    for name in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", "JACK_NO_AUDIO_RESERVATION"):  # it steered this process
        if name in before:
            os.environ[name] = before[name]
        else:
            os.environ.pop(name, None)
    if server is None:
        pytest.skip("jackd cannot start here")
    env = {**os.environ, **server.env}
    show = write_show(tmp_path, "nobody")
    process = start_show(show, driver=None, env=env)
    try:
        deadline = time.monotonic() + 30
        while "showcontrol:ltc" not in subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)
        server.process.kill()  # the server dies under the show
        out, err = process.communicate(timeout=60)  # the song still ends by itself, on the stand-in's timer
    finally:
        process.kill()
        server.stop()
    assert process.returncode == 1, err  # nothing was heard for part of it
    assert "AUDIO LOST" in err and "now lost; AUDIO LOST at" in out
    records = [json.loads(line) for line in show.with_suffix(".jsonl").read_text().splitlines()]
    assert [r["result"] for r in records if r.get("kind") == "audio"] == ["lost"]


def test_a_jack_period_other_than_the_patchs_is_a_clear_error(jack, tmp_path: Path) -> None:
    show = write_show(tmp_path, "nobody", period=256)
    process = start_show(show, driver=None)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "the JACK server's period is 1024 frames" in err.splitlines()[-1] and "Traceback" not in err
