"""The playback monitor against a real broker and a real running show: it starts mid-song from the
retained state, shows the song, section, beat, lyrics and breath, and reconnects by itself when the
broker restarts. Runs on SDL's dummy video driver; saves what it showed as a screenshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pygame
import pytest
from conftest import REPO

from showcontrol.model.position import BarBeat
from showcontrol.monitor.state import MonitorView, apply

PREFIX = "showcontrol/monitor-test/"
SHOW = """version: 1
patch: patch.yaml
songs:
  - id: duet
    end: 17.1
    tempo: [{bar: 1, bpm: 120}]
    sections: {intro: 1, verse: 3}
    timecode: {rate: 25, start: "10:00:00:00"}
    lyrics:
      - {at: 3.1, text: "First line of the verse", breath: 2.4}
      - {at: 5.1, text: "Second line follows here", breath: 4.4}
      - {at: 7.1, text: "And the third", breath: 6.4}
    cues:
      - {at: 9.1, name: blackout, mqtt: {to: monitors, topic: fx, payload: go}}
"""


def monitor(port: int, seconds: float, screenshot: Path | None = None, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "showcontrol",
        "monitor",
        "--broker",
        f"127.0.0.1:{port}",
        "--prefix",
        PREFIX,
        "--exit-after",
        str(seconds),
    ]
    command += ["--screenshot", str(screenshot)] if screenshot else []
    command += list(extra)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def shown(process: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_monitor_started_mid_song_shows_where_the_song_is(tmp_path: Path, broker) -> None:
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\noutputs:\n  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: {PREFIX}}}\n"
    )
    (tmp_path / "show.yaml").write_text(SHOW)
    command = [
        sys.executable,
        "-m",
        "showcontrol",
        "run",
        str(tmp_path / "show.yaml"),
        "--audio-driver",
        "dummy",
        "--headless",
        "--log",
        str(tmp_path / "log.jsonl"),
    ]
    show = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        time.sleep(7)  # the song is well into the verse before the monitor starts
        view = shown(monitor(broker.port, 2.0, tmp_path / "monitor.png"))
    finally:
        show.kill()
        show.wait()
    assert view["connected"] and view["engine"] == "online" and view["transport"] == "playing"
    assert view["song"] == "duet" and view["section"] == "verse" and view["bar"] >= 3
    assert view["lyric"] in ("First line of the verse", "Second line follows here", "And the third")
    assert view["timecode"].startswith("10:00:")
    image = pygame.image.load(str(tmp_path / "monitor.png"))
    assert image.get_size() == (1280, 720)
    bright = sum(1 for x in range(300, 980, 4) for y in range(150, 330, 4) if sum(image.get_at((x, y))[:3]) > 600)
    assert bright > 100  # the big bar.beat is drawn


def test_the_monitor_reconnects_by_itself_when_the_broker_comes_back(broker) -> None:
    view = monitor(broker.port, 7.0)
    time.sleep(2.0)
    broker.kill()
    time.sleep(1.5)
    broker.start()
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-r", "-t", PREFIX + "state/section", "-m", '{"name": "bridge"}'], check=True)
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-r", "-t", PREFIX + "status", "-m", "online"], check=True)
    final = shown(view)
    assert final["connected"] and final["section"] == "bridge" and final["engine"] == "online"


@pytest.mark.parametrize(
    ("topic", "payload", "field", "value"),
    [
        ("status", "offline", "engine", "offline"),
        ("state/transport", '{"state": "paused", "song": "x"}', "transport", "paused"),
        ("state/section", '{"name": "chorus"}', "section", "chorus"),
        ("state/position", '{"bar": 9, "beat": 1, "downbeat": true, "breath_in_beats": 0}', "breath_in_beats", 0),
        ("state/position", "not json", "bar", None),
        ("state/audio", '{"health": "lost"}', "audio", "lost"),
    ],
)
def test_each_state_topic_updates_the_view(topic: str, payload: str, field: str, value: object) -> None:
    assert getattr(apply(MonitorView(), topic, payload, 0.0), field) == value


def test_a_monitor_says_when_the_track_is_not_heard(tmp_path: Path, broker) -> None:
    """The engine's audio device is lost: performers following the track must see it, in red, up top."""
    for topic, payload in (("status", "online"), ("state/section", '{"name": "verse"}'), ("state/audio", '{"health": "lost"}')):
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-r", "-t", PREFIX + topic, "-m", payload], check=True)
    view = shown(monitor(broker.port, 1.5, tmp_path / "lost.png"))
    assert view["audio"] == "lost"
    image = pygame.image.load(str(tmp_path / "lost.png"))
    red = sum(1 for x in range(200, 1080, 4) for y in range(90, 130, 2) if (c := image.get_at((x, y))).r > 150 and c.g < 100)
    assert red > 50  # the warning line is drawn


def test_the_beat_flashes_and_the_downbeat_differs() -> None:
    view = apply(
        apply(MonitorView(), "state/transport", '{"state": "playing"}', 0),
        "state/position",
        '{"bar": 2, "beat": 1, "downbeat": true}',
        10.0,
    )
    assert view.flash(10.05) == "downbeat" and view.flash(10.5) is None
    assert apply(view, "state/position", '{"bar": 2, "beat": 2, "downbeat": false}', 11.0).flash(11.05) == "beat"


DUET = """version: 1
songs:
  - id: duet
    end: 9.1
    tempo: [{bar: 1, bpm: 120}]
    lyrics:
      - {at: 2.1, performer: Ava, text: "Ava sings first", breath: 1.4}
      - {at: 3.1, performer: Ben, text: "Ben answers", breath: 2.4}
      - {at: 4.1, text: "Both together"}
      - {at: 5.1, performer: Ben, text: "Ben again", breath: 4.4}
"""


def test_the_beat_table_gives_each_performer_their_own_lines(tmp_path: Path) -> None:
    from showcontrol.beats import beat_states
    from showcontrol.load.show_file import load_show

    (tmp_path / "show.yaml").write_text(DUET)
    timeline = load_show(tmp_path / "show.yaml").timelines["duet"]
    states = beat_states(timeline)
    bar_3 = states[timeline.tempo.frame(BarBeat(3), 48000)]
    assert (bar_3["lyric"], bar_3["lyric_performer"], bar_3["next_lyric"]) == ("Ben answers", "Ben", "Both together")
    assert bar_3["parts"]["Ava"]["lyric"] == "Ava sings first" and bar_3["parts"]["Ava"]["next_lyric"] == "Both together"
    assert bar_3["parts"]["Ben"]["lyric"] == "Ben answers" and bar_3["parts"]["Ben"]["next_lyric"] == "Both together"
    bar_4_beat_2 = states[timeline.tempo.frame(BarBeat(4, 2), 48000)]
    assert bar_4_beat_2["parts"]["Ben"]["breath_in_beats"] == 2 and bar_4_beat_2["parts"]["Ava"]["breath_in_beats"] is None


def test_a_performers_monitor_ignores_the_others_lines() -> None:
    ava = MonitorView(performer="Ava")
    assert apply(ava, "state/lyric", '{"text": "Ben answers", "performer": "Ben"}', 0).lyric == ""
    assert apply(ava, "state/lyric", '{"text": "Both together"}', 0).lyric == "Both together"
    position = json.dumps(
        {"bar": 3, "beat": 1, "lyric": "Ben answers", "lyric_performer": "Ben", "parts": {"Ava": {"lyric": "Ava sings first"}}}
    )
    assert apply(ava, "state/position", position, 0).lyric == "Ava sings first"
    shared = apply(MonitorView(), "state/position", position, 0)
    assert shared.line(shared.lyric, shared.lyric_performer) == "Ben: Ben answers"  # a shared monitor says who sings


def test_a_performers_monitor_on_a_running_duet(tmp_path: Path, broker) -> None:
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\noutputs:\n  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: {PREFIX}}}\n"
    )
    (tmp_path / "show.yaml").write_text(DUET.replace("version: 1\n", "version: 1\npatch: patch.yaml\n"))
    command = [sys.executable, "-m", "showcontrol", "run", str(tmp_path / "show.yaml"), "--audio-driver", "dummy", "--headless"]
    show = subprocess.Popen(
        [*command, "--log", str(tmp_path / "log.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        time.sleep(4.6)  # bar 3 (Ben's line) starts at 4 s; the monitor needs about a second to start
        view = shown(monitor(broker.port, 1.5, tmp_path / "ava.png", "--performer", "Ava"))
    finally:
        show.kill()
        show.wait()
    assert view["performer"] == "Ava" and view["transport"] == "playing"
    assert view["lyric"] in ("Ava sings first", "Both together") and "Ben" not in view["lyric"] + view["next_lyric"]


def test_monitors_count_beats_when_no_click_sounds(tmp_path: Path) -> None:
    """A band playing to the track without an earpiece click: monitors still get every beat of the grid."""
    from showcontrol.beats import beat_states
    from showcontrol.load.show_file import load_show

    (tmp_path / "show.yaml").write_text(DUET.replace("    end: 9.1\n", "    end: 9.1\n    click: false\n"))
    states = beat_states(load_show(tmp_path / "show.yaml").timelines["duet"])
    assert len(states) == 8 * 4 and sum(s["downbeat"] for s in states.values()) == 8
