"""The playback monitor against a real broker and a real running show: it starts mid-song from the
retained state, shows the song, section, beat, lyrics and breath, and reconnects by itself when the
broker restarts. Runs on SDL's dummy video driver; saves what it showed as a screenshot."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygame
import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peers import Broker, free_port, wait_until
from test_run import wait_for_line

from showcontrol.codec import monitor as wire
from showcontrol.model.position import BarBeat
from showcontrol.monitor.state import MonitorView, apply
from showcontrol.monitor.window import Fonts, draw

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


def shown(process: subprocess.Popen[str]) -> dict[str, Any]:
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
        playing = wait_for_line(tmp_path / "log.jsonl", '"state": "playing"')  # from when it plays, not from the start
        time.sleep(max(0.0, playing + 5 - time.monotonic()))  # the song is well into the verse (4 s) before the monitor starts
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
    # the big bar.beat is drawn: white, or amber when the screenshot caught a downbeat flash
    drawn = sum(
        1 for x in range(300, 980, 4) for y in range(150, 330, 4) if image.get_at((x, y))[0] > 200 and image.get_at((x, y))[1] > 150
    )
    assert drawn > 100


def test_the_monitor_reconnects_by_itself_when_the_broker_comes_back(broker) -> None:
    view = monitor(broker.port, 10.0)
    wait_until(lambda: broker.subscribed(PREFIX + "#") == 1)  # it listens (however long a loaded machine took to start it)
    broker.kill()
    time.sleep(1.5)  # away for a while
    broker.start()
    publish_at_once(broker, [("state/section", b'{"name": "bridge"}'), ("status", b"online")], retain=True)
    wait_until(lambda: broker.subscribed(PREFIX + "#") == 2)  # back by itself
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
    assert getattr(apply(MonitorView(), topic, payload.encode(), 0.0), field) == value


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
        apply(MonitorView(connected=True), "state/transport", b'{"state": "playing"}', 0),
        "state/position",
        b'{"bar": 2, "beat": 1, "downbeat": true}',
        10.0,
    )
    assert view.flash(10.05) == "downbeat" and view.flash(10.5) is None
    assert apply(view, "state/position", b'{"bar": 2, "beat": 2, "downbeat": false}', 11.0).flash(11.05) == "beat"
    assert apply(view, "status", b"offline", 10.0).flash(10.05) is None  # an engine gone: nothing flashes as if it played


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
    assert (bar_3.lines.lyric, bar_3.lines.lyric_performer, bar_3.lines.next_lyric) == ("Ben answers", "Ben", "Both together")
    assert bar_3.parts is not None and bar_3.parts["Ava"] == wire.Lines("Ava sings first", "Ava", "Both together", "", None)
    assert bar_3.parts["Ben"].lyric == "Ben answers" and bar_3.parts["Ben"].next_lyric == "Both together"
    bar_4_beat_2 = states[timeline.tempo.frame(BarBeat(4, 2), 48000)].parts
    assert bar_4_beat_2 is not None and bar_4_beat_2["Ben"].breath_in_beats == 2 and bar_4_beat_2["Ava"].breath_in_beats is None


def test_at_one_frame_the_monitors_position_goes_before_the_section_and_the_lyric_it_carries(tmp_path: Path) -> None:
    """A page or monitor draws between two messages: the lyric's own message first showed the line beside
    the bar before it. The position carries the beat's section and lyric, so it goes first (after the cues)."""
    from showcontrol.load.show_file import load_show
    from showcontrol.timeline.events import Kind

    (tmp_path / "show.yaml").write_text(DUET.replace("    lyrics:", "    sections: {intro: 1, verse: 2, bridge: 4}\n    lyrics:"))
    timeline = load_show(tmp_path / "show.yaml").timelines["duet"]
    for bar in (2, 4):  # a section, a lyric and a beat on one frame
        frame = timeline.tempo.frame(BarBeat(bar), 48000)
        kinds = [e.kind for e in timeline.events if e.at_frame == frame and e.kind in (Kind.BEAT, Kind.SECTION, Kind.LYRIC)]
        assert kinds == [Kind.BEAT, Kind.SECTION, Kind.LYRIC], (bar, kinds)


def test_a_performers_monitor_ignores_the_others_lines() -> None:
    ava = MonitorView(performer="Ava")
    assert apply(ava, "state/lyric", b'{"text": "Ben answers", "performer": "Ben"}', 0).lyric == ""
    assert apply(ava, "state/lyric", b'{"text": "Both together"}', 0).lyric == "Both together"
    position = json.dumps(
        {"bar": 3, "beat": 1, "lyric": "Ben answers", "lyric_performer": "Ben", "parts": {"Ava": {"lyric": "Ava sings first"}}}
    ).encode()
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
        playing = wait_for_line(tmp_path / "log.jsonl", '"state": "playing"')  # from when it plays, not from the start
        time.sleep(max(0.0, playing + 3 - time.monotonic()))  # bar 3 (Ben's line) starts at 4 s; the monitor needs a second or more
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
    assert len(states) == 8 * 4 and sum(s.downbeat for s in states.values()) == 8


def publish_retained(broker: Broker, messages: dict[str, str]) -> None:
    for topic, payload in messages.items():
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-r", "-t", PREFIX + topic, "-s"], input=payload.encode(), check=True)


def publish_at_once(broker: Broker, messages: list[tuple[str, bytes]], retain: bool = False) -> None:
    """Each message in order on one connection, all handed to the broker when this returns: a process per
    message takes seconds on a loaded machine, longer than a monitor timed to show them runs."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for info in [client.publish(PREFIX + topic, payload, qos=1, retain=retain) for topic, payload in messages]:
            info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()


NESTED = "[" * 200_000 + "]" * 200_000
HOSTILE = {
    "status": "online",
    "state/transport": '{"state": "playing", "song": "duet"}',
    "state/lyric": json.dumps({"text": "la " * 200_000}),  # a 600 k-character lyric, which check accepts
    "state/section": '{"name": ' + NESTED + "}",  # nesting that ends Python's parser in RecursionError
    "state/position": json.dumps({"bar": 9, "beat": 2, "next_cue": "soon", "parts": {"Ava": 5}, "timecode": "10:00:04:00"}),
    "state/audio": json.dumps({"health": {"nested": [1, 2]}}),
    "fx/confetti": "\x00\x1b[2J not a state topic",  # a cue: not the monitor's, ignored
}


def test_a_monitor_survives_hostile_retained_messages_and_shows_what_it_can(tmp_path: Path, broker) -> None:
    """Each of these killed the monitor at every start (retained: they come back each time)."""
    publish_retained(broker, HOSTILE)
    for run in range(2):  # and again at the next start
        view = shown(monitor(broker.port, 1.5, tmp_path / f"hostile{run}.png", "--performer", "Ava"))
        assert view["transport"] == "playing" and (view["bar"], view["beat"]) == (9, 2) and view["timecode"] == "10:00:04:00"
        assert view["lyric"].startswith("la la ") and len(view["lyric"]) == 200  # cut, not dropped
        assert view["next_cue"] is None and view["audio"] == "ok"
        flagged = dict(view["bad"])
        assert set(flagged) == {"state/lyric", "state/section", "state/position", "state/audio"}
        assert flagged["state/section"] == "not JSON" and "next_cue is not an object" in flagged["state/position"]
        assert "Ava is not an object" in flagged["state/position"] and flagged["state/audio"] == "health is not text"
    image = pygame.image.load(str(tmp_path / "hostile1.png"))
    amber = sum(
        1 for x in range(700, 1230, 3) for y in range(75, 160, 2) if (c := image.get_at((x, y))).r > 200 and 150 < c.g < 220 and c.b < 100
    )
    assert amber > 30  # the flags are drawn in the top right corner
    publish_retained(broker, {"state/position": json.dumps({"bar": 10, "beat": 1}), "state/section": '{"name": "verse"}'})
    view = shown(monitor(broker.port, 1.5))
    assert set(dict(view["bad"])) == {"state/lyric", "state/audio"}  # a good message clears its topic's flag
    assert view["section"] == "verse" and view["bar"] == 10


@pytest.mark.parametrize(
    ("topic", "payload", "problem"),
    [
        ("state/position", '{"bar": 3, "beat": 1, "next_cue": {"name": "boom", "in_s": "soon"}}', "next_cue.in_s is not a time in seconds"),
        ("state/position", '{"bar": 3, "beat": 1, "next_cue": {"name": "boom", "in_s": NaN}}', "next_cue.in_s is not a time in seconds"),
        ("state/position", '{"bar": true, "beat": 1}', "bar is not a count"),
        ("state/position", '{"bar": 1' + "0" * 5000 + ', "beat": 1}', "not JSON"),
        ("state/transport", '{"state": "exploded"}', "state is not one of playing, paused, stopped"),
        ("state/lyric", '{"text": "a\\u0000b\\u001b[31m"}', ""),
        ("status", "x" * 2_000_000, "2000000 bytes, more than a monitor reads (1000000)"),
        ("status", "rebooting", "not online or offline"),
        ("state/section", "[1, 2]", "not a JSON object"),
        ("state/setlist", '{"songs": "all of them"}', "songs is not a list"),
        (
            "state/setlist",
            '{"songs": [7, {"number": 2, "id": "b", "standby": "yes"}]}',
            "songs.0 is not an object; songs.1.standby is not true or false",
        ),
    ],
)
def test_a_bad_field_is_flagged_and_the_rest_shown(topic: str, payload: str, problem: str) -> None:
    view = apply(MonitorView(), topic, payload.encode(), 0.0)
    assert dict(view.bad).get(topic, "") == problem
    if topic == "state/position" and problem.startswith("next_cue"):
        assert (view.bar, view.beat, view.next_cue) == (3, 1, None)
    if topic == "state/lyric":
        assert view.lyric == "ab[31m"  # control characters left out: a NUL stops the renderer
    if topic == "state/setlist" and "songs.1" in problem:
        assert view.set_list == wire.SetList((wire.SetSong(2, "b", "b"),))  # the readable song kept, its title its id


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELDS = ("bar", "beat", "downbeat", "section", "timecode", "lyric", "lyric_performer", "next_lyric", "next_lyric_performer",
          "breath_in_beats", "next_cue", "parts", "state", "song", "name", "text", "performer", "health")  # fmt: skip
messages = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values | st.fixed_dictionaries({"name": json_values, "in_s": json_values})).map(
        lambda data: json.dumps(data, allow_nan=True).encode()
    ),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),  # any bytes, as the subscriber hands them on
)
TOPICS = st.sampled_from(
    ["status", "state/transport", "state/section", "state/position", "state/lyric", "state/audio", "state/breath", "fx"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TOPICS, messages), max_size=6), st.sampled_from([None, "Ava"]), st.booleans())
def test_no_message_on_any_topic_breaks_the_view_or_its_drawing(
    sequence: list[tuple[str, bytes]], performer: str | None, connected: bool
) -> None:
    view = MonitorView(performer=performer, connected=connected)
    for topic, payload in sequence:
        view = apply(view, topic, payload, 1.0)
    assert view.bar is None or isinstance(view.bar, int)
    assert all(len(text) <= wire.TEXT_LIMIT for text in (view.lyric, view.next_lyric, view.section, view.song, view.timecode, view.audio))
    draw(SURFACE, FONTS, view, 1.05)  # whatever the view holds, it draws


pygame.font.init()
SURFACE = pygame.Surface((640, 360))
FONTS = Fonts(360)


NORMAL = {
    "status": "online",
    "state/transport": '{"state": "playing", "song": "duet"}',
    "state/section": '{"name": "verse"}',
    "state/position": json.dumps({"bar": 14, "beat": 3, "lyric": "Second line follows here", "next_lyric": "And the third",
                                  "timecode": "10:00:27:12", "breath_in_beats": 2, "next_cue": {"name": "blackout", "in_s": 4.0}}),
}  # fmt: skip


def big_text_pixels(image: pygame.Surface, test: Callable[[pygame.Color], bool]) -> int:
    """Pixels of the huge middle line (where bar.beat is drawn) that pass `test`."""
    return sum(1 for x in range(100, 1180, 4) for y in range(170, 330, 4) if test(image.get_at((x, y))))


def test_a_paused_show_says_paused_in_large_type(tmp_path: Path, broker) -> None:
    publish_retained(broker, {**NORMAL, "state/transport": '{"state": "paused", "song": "duet"}'})
    view = shown(monitor(broker.port, 1.5, tmp_path / "paused.png"))
    assert view["transport"] == "paused" and view["bar"] == 14
    image = pygame.image.load(str(tmp_path / "paused.png"))
    assert big_text_pixels(image, lambda c: c.r > 200 and 150 < c.g < 220 and c.b < 100) > 150  # PAUSED, large, in amber


@pytest.mark.parametrize("engine", ["offline", "gone"])
def test_an_engine_offline_or_a_broker_gone_fills_the_screen(tmp_path: Path, broker, engine: str) -> None:
    """Not in a corner: the whole screen says that nothing on it is live (the last state is still retained)."""
    publish_retained(broker, {**NORMAL, "status": "offline"} if engine == "offline" else NORMAL)
    process = monitor(broker.port, 3.0 if engine == "gone" else 1.5, tmp_path / f"{engine}.png")
    if engine == "gone":
        time.sleep(1.5)
        broker.kill()
    view = shown(process)
    assert not view["connected"] if engine == "gone" else view["engine"] == "offline"
    image = pygame.image.load(str(tmp_path / f"{engine}.png"))
    corners = [image.get_at((x, y)) for x, y in ((5, 300), (1275, 300), (640, 700))]
    assert all(c.r > 100 and c.g < 40 for c in corners)  # a red screen, not a red word
    assert big_text_pixels(image, lambda c: c.r > 200 and c.g > 200 and c.b > 200) > 150  # ENGINE OFFLINE / NO CONNECTION, large


def test_a_screenshot_is_written_whole_and_only_as_a_file(tmp_path: Path) -> None:
    """`--screenshot` goes through the one atomic writer: a PNG replaces the old file whole, nothing is left
    beside it, and a FIFO (or a device) is refused at once, before any window opens, and left as it was."""
    nobody = free_port()  # no broker: the window says so, and the screenshot shows it
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"old")
    assert shown(monitor(nobody, 0.5, shot))["connected"] is False
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in tmp_path.iterdir()] == ["shot.png"]
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    process = monitor(nobody, 30, fifo)
    _, err = process.communicate(timeout=20)  # at once: not after the 30 s the window would have run
    assert process.returncode == 2 and f"{fifo} is a FIFO (named pipe), not a file" in err, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# The wire schema itself (codec/monitor.py): what the engine writes, the monitor reads back whole.
GOLDEN_POSITION = wire.Position(
    bar=9,
    beat=1,
    downbeat=True,
    section="verse",
    timecode="10:00:16:00",
    lines=wire.Lines("First line", "", "Second line", "", 2),
    next_cue=wire.NextCue("blackout", 4.0),
    parts={"Ava": wire.Lines("First line", "", "", "", None)},
)


def test_a_position_is_encoded_as_the_web_pages_read_it() -> None:
    assert wire.topic_of(GOLDEN_POSITION) == "state/position"
    assert json.loads(wire.encode(GOLDEN_POSITION)) == {
        "bar": 9, "beat": 1, "downbeat": True, "section": "verse", "timecode": "10:00:16:00",
        "lyric": "First line", "lyric_performer": "", "next_lyric": "Second line", "next_lyric_performer": "", "breath_in_beats": 2,
        "next_cue": {"name": "blackout", "in_s": 4.0},
        "parts": {"Ava": {"lyric": "First line", "lyric_performer": "", "next_lyric": "", "next_lyric_performer": ""}},
    }  # fmt: skip
    assert wire.encode(wire.Presence(wire.OFFLINE)) == b"offline"
    assert json.loads(wire.encode(wire.Transport("playing", "duet", "96000"))) == {"state": "playing", "song": "duet", "position": "96000"}


def test_every_beat_of_a_show_reads_back_as_it_was_written(tmp_path: Path) -> None:
    from showcontrol.beats import beat_states
    from showcontrol.load.show_file import load_show

    (tmp_path / "show.yaml").write_text(DUET)
    states = beat_states(load_show(tmp_path / "show.yaml").timelines["duet"])
    for position in states.values():
        assert wire.decode("state/position", wire.encode(position)) == wire.Reading("state/position", position)


short_text = st.text(st.characters(exclude_categories=["C"]), max_size=20)
counts = st.none() | st.integers(0, wire.MAX_COUNT)
nonempty_text = st.text(st.characters(exclude_categories=["C"]), min_size=1, max_size=20)
lines = st.builds(wire.Lines, short_text | st.none(), short_text | st.none(), short_text | st.none(), short_text | st.none(), counts)
valid_messages = st.one_of(
    st.builds(wire.Presence, st.sampled_from([wire.ONLINE, wire.OFFLINE])),
    st.builds(wire.Transport, st.none() | st.sampled_from(wire.TRANSPORT_STATES), short_text | st.none(), short_text | st.none(), short_text | st.none()),
    st.builds(wire.Section, short_text | st.none(), counts, counts),
    st.builds(wire.Lyric, short_text | st.none(), short_text | st.none(), counts, counts),
    st.builds(wire.Breath, short_text | st.none(), short_text | st.none(), counts, counts),
    st.builds(wire.Audio, short_text | st.none()),
    st.builds(wire.SetList, st.lists(st.builds(wire.SetSong, st.integers(0, 999), nonempty_text, nonempty_text, st.booleans(), st.booleans()), max_size=4).map(tuple)),
    st.builds(
        wire.Position, counts, counts, st.booleans(), short_text | st.none(), short_text | st.none(), lines,
        st.none() | st.builds(wire.NextCue, short_text, st.floats(0, 86_399, allow_nan=False)),
        st.none() | st.dictionaries(short_text, lines, max_size=3),
    ),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(valid_messages)
def test_any_message_the_engine_can_write_reads_back_unchanged(message: wire.Message) -> None:
    topic = wire.topic_of(message)
    assert wire.decode(topic, wire.encode(message)) == wire.Reading(topic, message)


MONITOR_TOPICS = [
    "status",
    "state/transport",
    "state/section",
    "state/position",
    "state/lyric",
    "state/breath",
    "state/audio",
    "state/setlist",
]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([*MONITOR_TOPICS, "fx", "command", ""]), st.binary(max_size=300) | messages)
def test_no_bytes_on_any_topic_make_the_decoder_raise(topic: str, payload: bytes) -> None:
    reading = wire.decode(topic, payload)
    if topic not in MONITOR_TOPICS:
        assert reading is None
        return
    assert reading is not None and len(reading.problems) <= wire.MAX_PROBLEMS + 1
    said = "".join(reading.problems)
    assert said == wire.shown(said)  # a problem is drawn on the screen: no control characters in it


def test_a_hostile_key_in_parts_is_named_safely_and_the_rest_read() -> None:
    payload = json.dumps({"bar": 4, "beat": 2, "parts": {"\x00\x1b[2J" + "x" * 100: 1, "Ava": {"lyric": 7, "next_lyric": "ok"}}})
    reading = wire.decode("state/position", payload.encode())
    assert reading is not None and isinstance(reading.message, wire.Position)
    assert reading.message.parts == {"Ava": wire.Lines(next_lyric="ok")} and (reading.message.bar, reading.message.beat) == (4, 2)
    assert reading.problems == ("parts.[2J" + "x" * 35 + " is not an object", "parts.Ava.lyric is not text")


LIVE_HOSTILE = [
    b"\xff\xfe\x00 not UTF-8",
    b"{" * 100_000,
    b'{"bar": ' + b"9" * 10_000 + b"}",
    b"x" * 1_500_000,
    json.dumps({"bar": -1, "beat": "one", "section": "\x1b]0;owned\x07", "next_cue": {"in_s": 1e308}}).encode(),
]


def test_a_running_monitor_takes_hostile_messages_and_carries_on(tmp_path: Path, broker: Broker) -> None:
    """Not retained this time: hostile messages arrive while the monitor runs, then a good one it shows."""
    publish_retained(broker, NORMAL)
    process = monitor(broker.port, 6.0, tmp_path / "carried-on.png")
    wait_until(lambda: broker.subscribed(PREFIX + "#") == 1)  # it listens, and has the normal state (retained)
    publish_at_once(broker, [(topic, payload) for payload in LIVE_HOSTILE for topic in ("state/position", "state/section", "status")])
    good = [
        ("state/position", json.dumps({"bar": 15, "beat": 2, "section": "chorus"}).encode()),
        ("state/transport", b'{"state": "playing", "song": "duet"}'),
    ]
    publish_at_once(broker, good, retain=True)
    view = shown(process)
    assert (view["bar"], view["beat"], view["section"], view["song"]) == (15, 2, "chorus", "duet")
    assert view["connected"] and view["engine"] == "online" and dict(view["bad"]).keys() == {"state/section", "status"}


SET = """version: 1
patch: patch.yaml
songs:
  - id: opener
    title: Opening Number
    end: 17.1
    tempo: [{bar: 1, bpm: 120}]
    lyrics:
      - {at: 2.1, text: "The first line"}
  - id: ballad
    title: The Slow One
    end: 9.1
    tempo: [{bar: 1, bpm: 90}]
"""


def amber(color: pygame.Color) -> bool:
    return color.r > 200 and 150 < color.g < 220 and color.b < 100


def pixels(image: pygame.Surface, test: Callable[[pygame.Color], bool], xs: range, ys: range) -> int:
    return sum(1 for x in xs for y in ys if test(image.get_at((x, y))))


def test_the_monitor_shows_the_sets_next_song_big_between_songs_and_small_while_playing(tmp_path: Path, broker: Broker) -> None:
    """A real engine with a two-song set on the real broker: stopped, the monitor says in large amber type
    which number GO plays; playing, the song after it in small type at the bottom, by number and title."""
    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.engine.transport import State
    from showcontrol.load.show_file import load_show

    (tmp_path / "patch.yaml").write_text(
        f"version: 1\noutputs:\n  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: {PREFIX}}}\n"
    )
    (tmp_path / "show.yaml").write_text(SET)
    options = RunOptions(audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    with ShowRunner(load_show(tmp_path / "show.yaml"), options) as runner:
        stopped = shown(monitor(broker.port, 1.5, tmp_path / "stopped.png"))
        runner.play()
        wait_until(lambda: runner.segment.state is State.PLAYING)
        playing = shown(monitor(broker.port, 1.5, tmp_path / "playing.png"))
    assert stopped["transport"] == "stopped" and stopped["song"] == "opener" and stopped["next_song"] == "ballad"
    assert [(s["number"], s["title"], s["playing"], s["standby"]) for s in stopped["set_list"]["songs"]] == [
        (1, "Opening Number", False, True),
        (2, "The Slow One", False, False),
    ]
    assert playing["transport"] == "playing" and playing["next_song"] == "ballad"
    assert [(s["playing"], s["standby"]) for s in playing["set_list"]["songs"]] == [(True, False), (False, True)]
    big_row, bottom = range(100, 1180, 3), range(500, 780, 2)
    image = pygame.image.load(str(tmp_path / "stopped.png"))
    assert pixels(image, amber, big_row, range(390, 450, 3)) > 150  # "next: 1. Opening Number", large
    image = pygame.image.load(str(tmp_path / "playing.png"))
    assert pixels(image, amber, big_row, range(390, 450, 3)) == 0  # not in the way of the lyrics
    assert pixels(image, lambda c: 120 < c.r < 160 and 120 < c.g < 160, bottom, range(676, 700)) > 40  # small, at the bottom


def test_next_up_is_the_sets_standby_song_and_the_set_end_says_nothing() -> None:
    songs = (wire.SetSong(1, "a", "Alpha", playing=True), wire.SetSong(2, "b", "Beta", standby=True))
    view = apply(MonitorView(next_song="b"), "state/setlist", wire.encode(wire.SetList(songs)), 0.0)
    assert view.next_up == "2. Beta"
    assert MonitorView(next_song="b").next_up == "b"  # an engine without a set list topic: the id
    done = apply(view, "state/setlist", wire.encode(wire.SetList((wire.SetSong(1, "a", "Alpha"),))), 0.0)
    assert done.next_up == "end of the set" and done.set_played


def test_a_song_that_follows_is_marked_while_the_song_before_it_plays() -> None:
    """A segue: performers must know the next number starts by itself, with no GO and no pause between."""
    segue = (wire.SetSong(1, "a", "Alpha", playing=True), wire.SetSong(2, "b", "Beta", standby=True, follows=True))
    view = apply(MonitorView(), "state/setlist", wire.encode(wire.SetList(segue)), 0.0)
    assert view.next_up == "2. Beta — follows"
    stopped = (wire.SetSong(1, "a", "Alpha"), wire.SetSong(2, "b", "Beta", standby=True, follows=True))  # GOne to by hand
    assert apply(view, "state/setlist", wire.encode(wire.SetList(stopped)), 0.0).next_up == "2. Beta"
    chosen = (wire.SetSong(1, "a", "Alpha", playing=True), wire.SetSong(3, "c", "Gamma", standby=True, follows=True))
    assert apply(view, "state/setlist", wire.encode(wire.SetList(chosen)), 0.0).next_up == "3. Gamma"  # not the one after
