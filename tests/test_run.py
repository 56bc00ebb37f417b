"""`showcontrol run` end to end against real peers: UDP, a Mosquitto broker, JACK MIDI; SDL's dummy audio driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mido
from conftest import REPO
from peers import Subscriber, UdpReceiver
from pythonosc.osc_message import OscMessage

from showcontrol.demo import make_demo_tracks
from showcontrol.io.midi import to_message
from showcontrol.load.show_file import load_show
from showcontrol.model.show import MidiAction, MqttAction, OscAction
from showcontrol.timeline.events import Kind

PREFIX = "showcontrol/test/"


def write_patch(folder: Path, osc_port: int, midi_port: str, broker_port: int, extra_osc: str = "") -> Path:
    patch = folder / "patch.yaml"
    patch.write_text(f"""version: 1
name: test rig
audio: {{sample_rate: 48000, channels: 4, buffer_frames: 256, routes: {{track: [1, 2], click: 3, ltc: 4}}}}
outputs:
  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}
  keys: {{type: midi, port: {midi_port}}}
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker_port}, topic_prefix: {PREFIX}}}
{extra_osc}""")
    return patch


class MidiCollector:
    """A virtual JACK MIDI input the engine connects to by name."""

    def __init__(self, name: str) -> None:
        self.messages: list[tuple[int, mido.Message]] = []
        self.port = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_input(
            name, virtual=True, client_name="sctest", callback=lambda m: self.messages.append((time.monotonic_ns(), m))
        )

    def close(self) -> None:
        self.port.close()


def run_show(
    show: Path, patch: Path, song: str, log: Path, jack_env: dict[str, str], timeout: float = 200
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **jack_env}
    command = [
        sys.executable,
        "-m",
        "showcontrol",
        "run",
        str(show),
        "--patch",
        str(patch),
        "--song",
        song,
        "--audio-driver",
        "dummy",
        "--midi-api",
        "jack",
        "--log",
        str(log),
        "--headless",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def expected(show: Path, patch: Path, song: str) -> dict[str, list[object]]:
    timeline = load_show(show, patch).timelines[song]
    actions = [e.payload for e in timeline.events]
    return {
        "osc": [(a.address, list(a.args)) for a in actions if isinstance(a, OscAction)],
        "midi": [to_message(a).bytes() for a in actions if isinstance(a, MidiAction)],
        "mqtt": [(PREFIX + a.topic, a.payload) for a in actions if isinstance(a, MqttAction)],
        "events": [e for e in timeline.events if e.kind in (Kind.OSC, Kind.MIDI, Kind.MQTT)],
    }


def test_the_demo_show_fires_every_cue_in_order(tmp_path: Path, broker, jack) -> None:
    show = REPO / "cues" / "demo" / "show.yaml"
    make_demo_tracks(show)
    osc, midi = UdpReceiver(), MidiCollector("sc-test-keys")
    subscriber = Subscriber(broker.port, PREFIX + "#")
    patch = write_patch(tmp_path, osc.port, "sc-test-keys", broker.port)
    log = tmp_path / "show.jsonl"
    try:
        result = run_show(show, patch, "neon-nights", log, jack.env)
        time.sleep(0.5)
    finally:
        osc.close()
        midi.close()
        subscriber.close()
    assert result.returncode == 0, result.stderr
    want = expected(show, patch, "neon-nights")
    received_osc = [(m.address, list(m.params)) for m in (OscMessage(d) for _, d in osc.datagrams)]
    assert received_osc == want["osc"]
    assert [m.bytes() for _, m in midi.messages if m.type != "control_change" or m.control not in (64, 123)] == want["midi"]
    cue_topics = {topic for topic, _ in want["mqtt"]}
    assert [(t, p) for _, t, p in subscriber.lines if t in cue_topics] == want["mqtt"]
    topics = {t for _, t, _ in subscriber.lines}
    assert {
        PREFIX + "status",
        PREFIX + "state/transport",
        PREFIX + "state/section",
        PREFIX + "state/position",
        PREFIX + "state/lyric",
    } <= topics
    assert [p for _, t, p in subscriber.lines if t == PREFIX + "status"][-1] == "offline"  # said goodbye at the end
    assert all(m.control in (64, 123) for _, m in midi.messages[-32:])  # all notes off when the song stopped

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    fired = [line for line in lines if line.get("kind") in ("osc", "midi", "mqtt")]
    assert len(fired) == len(want["events"])
    assert [(f["song_frame"], f["output"]) for f in fired] == [(e.at_frame, e.output) for e in want["events"]]
    assert all(f["result"] in ("sent", "queued") for f in fired)
    assert "fired" in result.stdout and "errors 0" in result.stdout
