"""A whole show played as a set: five songs headless against a real broker and a UDP receiver, every cue of
every song in order, follows placed on the audio's frames (SDL's disk driver writes exactly what the callback
delivered), outputs opened once; the standby song chosen at a real terminal and over OSC."""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import sys
from pathlib import Path

import numpy as np
import soundfile
from conftest import REPO, run_show_to_the_end
from peers import Broker, Subscriber, UdpReceiver, free_port
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from test_terminal import Tmux
from test_transport_run import wait_until

from showcontrol.app.player import SongPlayer
from showcontrol.app.version import bare_version
from showcontrol.engine.transport import Play, State
from showcontrol.load.show_file import load_show

RATE = 48000
PREFIX = "showcontrol/set/"
LEVELS = {f"s{k}": k / 10 for k in range(1, 6)}  # each song's track is one constant value: its samples say whose they are
SETLIST = """setlist:
  - s1
  - {song: s2, follow: true, gap: 0.75}
  - s3
  - {song: s4, follow: true, gap: {bars: 1}}
  - s5
"""


def five_songs(folder: Path, osc_port: int, broker_port: int, bars: int = 2) -> Path:
    """Five songs of `bars` bars at 240 bpm (a bar a second; s5 at 120 bpm), two sections each, a cue on every
    beat carrying (song, bar, beat)."""
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {track: 1, click: 2}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}\n"
        f"  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker_port}, topic_prefix: {PREFIX}, client_id: settest}}\n"
    )
    songs = []
    for song, level in LEVELS.items():
        bpm = 120 if song == "s5" else 240
        soundfile.write(folder / f"{song}.wav", np.full((bars * 4 * 60 * RATE // bpm, 1), level, np.float32), RATE, subtype="FLOAT")
        cues = "\n".join(
            f"      - {{at: {bar}.{beat}, osc: {{to: lights, address: /cue, args: [{song}, {bar}, {beat}]}}}}"
            for bar in range(1, bars + 1)
            for beat in range(1, 5)
        )
        songs.append(
            f"  - id: {song}\n    audio: {song}.wav\n    click: false\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: {bpm}}}]\n"
            f"    sections: {{a: 1, b: 2}}\n    cues:\n{cues}\n"
        )
    show = folder / "show.yaml"
    show.write_text("version: 1\npatch: patch.yaml\n" + SETLIST + "songs:\n" + "".join(songs))
    return show


def runs(samples: np.ndarray) -> list[tuple[float, int, int]]:
    """(value, first frame, length) of each run of one value, silence included."""
    edges = np.flatnonzero(np.diff(samples)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(samples)]])
    return [(float(samples[a]), int(a), int(b - a)) for a, b in zip(starts, ends, strict=True)]


def test_a_five_song_set_plays_through_headless_with_follows_on_the_frame_and_outputs_opened_once(tmp_path: Path, broker: Broker) -> None:
    receiver = UdpReceiver()
    states = Subscriber(broker.port, PREFIX + "state/transport")
    played = tmp_path / "played.raw"
    try:
        show = five_songs(tmp_path, receiver.port, broker.port)
        env = {**os.environ, "SDL_DISKAUDIOFILE": str(played)}  # the disk driver at its real-time pace
        result = run_show_to_the_end(show, env=env, driver="disk", log=tmp_path / "show.jsonl")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: len(receiver.datagrams) == 40, timeout=5)
    finally:
        receiver.close()
        states.close()

    # every cue of every song, in the set's order
    cues = [tuple(OscMessage(d).params) for _, d in receiver.datagrams]
    assert cues == [(song, bar, beat) for song in LEVELS for bar in (1, 2) for beat in range(1, 5)]

    # what the device played: each song whole, and the follows' gaps to the frame
    audio = np.fromfile(played, np.float32).reshape(-1, 2)[:, 0]
    heard = [(round(value * 10), start, length) for value, start, length in runs(audio) if value]
    assert [(song, length) for song, _, length in heard] == [(1, RATE * 2), (2, RATE * 2), (3, RATE * 2), (4, RATE * 2), (5, RATE * 4)]
    gap = {(a[0], b[0]): b[1] - (a[1] + a[2]) for a, b in itertools.pairwise(heard)}
    assert gap[(2, 3)] == round(0.75 * RATE)  # s2 follows into s3 after 0.75 s
    assert gap[(4, 5)] == 2 * RATE  # s4 into s5 after one bar of s5's 120 bpm (4/4: 2 s)
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    segues = [r for r in records if r.get("kind") == "song" and r.get("result") == "follows"]
    assert [(r["song"], r["gap_frames"]) for r in segues] == [("s3", 36000), ("s5", 96000)]

    # outputs opened once for the whole set: one connection to the broker; monitors told the next song
    connections = re.findall(r"New client connected from \S+ as settest ", (broker.folder / "broker.log").read_text())
    assert len(connections) == 1
    payloads = [json.loads(p) for _, _, p in states.lines]
    assert {(p["song"], p["next_song"]) for p in payloads} >= {
        ("s1", "s2"),
        ("s2", "s3"),
        ("s4", "s5"),
        ("s5", ""),
    }  # "" after the last: none follows
    takes = [json.loads(line) for line in (tmp_path / f"{show.parent.name}-show.takes.jsonl").read_text().splitlines()]
    assert [(t["song"], t["take"]) for t in takes if t["record"] == "take-start"] == [(song, 1) for song in LEVELS]  # per song
    assert [t["status"] for t in takes if t["record"] == "take-end"] == ["complete"] * 5
    assert "5 songs played (s1, s2, s3, s4, s5)" in result.stdout


def osc_ask(port: int, address: str, *args: str | int | float) -> dict[str, object]:
    """One OSC command over UDP, and its reply."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.settimeout(5)
        sender.sendto(builder.build().dgram, ("127.0.0.1", port))
        return dict(json.loads(OscMessage(sender.recv(65536)).params[0]))


def wait_for_screen(term: Tmux, text: str, err: Path, timeout: float = 60) -> str:
    """The screen once it shows `text`; else what it showed, and what the show wrote to stderr. Generous: a song
    chosen is made ready at the lowest priority, which a busy machine serves last."""
    try:
        wait_until(lambda: text in term.screen(), timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"{text!r} never showed:\n{term.screen()}\n{err.read_text() if err.exists() else ''}") from None
    return term.screen()


def test_the_standby_song_moves_with_the_keys_and_over_osc_and_never_interrupts(tmp_path: Path, broker: Broker) -> None:
    receiver = UdpReceiver()
    osc_in = free_port(socket.SOCK_DGRAM)
    show = five_songs(tmp_path, receiver.port, broker.port, bars=6)
    run = f"{sys.executable} -m showcontrol run {show} --audio-driver dummy --osc-in {osc_in} --log {tmp_path / 'log.jsonl'} 2>{tmp_path / 'err'}"
    term = Tmux(200, 50, f"cd {REPO} && {run}")
    err = tmp_path / "err"
    try:
        wait_for_screen(term, "STANDBY 1 s1", err, timeout=60)
        for keys, standby in ((">", 2), (">", 3), ("<", 2), ("5#", 5)):
            term.keys("-l", keys)
            wait_for_screen(term, f"STANDBY {standby} s{standby}", err)  # the set list panel
            wait_for_screen(term, f"s{standby}  tempo", err)  # and it is the song open
        assert osc_ask(osc_in, "/showcontrol/song", "previous") == {"ok": True, "text": "standby 4: s4"}
        wait_for_screen(term, "STANDBY 4 s4", err)
        wait_for_screen(term, "s4  tempo", err)  # made ready and open: a GO before would be refused
        term.keys("Space")  # GO: s4 plays
        wait_for_screen(term, "▶ PLAYING", err, timeout=30)
        assert osc_ask(osc_in, "/showcontrol/song", "next") == {"ok": False, "error": "the last song of the set is standby"}  # s5
        assert osc_ask(osc_in, "/showcontrol/song", "2") == {"ok": True, "text": "after this song 2: s2"}  # s4 plays on
        term.keys("s")
        wait_for_screen(term, "s cues a section while stopped", err, timeout=30)
        assert "STANDBY 2 s2" in wait_for_screen(term, "▶ 4 s4", err)  # the set list: s4 playing, s2 after it
        screen = wait_for_screen(term, "s2  tempo", err)  # s4 ended by itself; the song chosen came in
        term.keys("q")
    finally:
        term.kill()
        receiver.close()
    assert [OscMessage(d).params[0] for _, d in receiver.datagrams] == ["s4"] * 24, screen  # nothing interrupted s4


# -- plain values ------------------------------------------------------------------------------------
def test_a_play_at_a_device_frame_starts_there_to_the_frame_however_late_it_is_taken(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text("version: 1\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 240}]\n")
    loaded = load_show(tmp_path / "show.yaml")
    song = loaded.show.song("s")
    player = SongPlayer(bare_version(song, 1, loaded.timelines["s"], {}), shapes=None)  # type: ignore[arg-type]
    transport = player.transport
    transport.request(Play(0, 0, at_device_frame=10_000))
    segment = transport.next_block(9_744, 256)  # taken 256 frames before it is due
    assert segment.state is State.PLAYING and segment.song_frame_at(10_000) == 0 and segment.song_frame_at(9_744) == -256
    late = player.transport
    late.request(Play(0, 0, at_device_frame=5_000))  # asked too late: it plays at once, from its start
    assert late.next_block(20_000, 256).song_frame_at(20_000) == 0
    end = late.end_frame
    late.next_block(20_000 + end, 256)
    assert late.ended_at == 20_000 + end and late.segment.state is State.STOPPED


def test_each_song_of_a_set_plays_its_own_click_channel_and_its_own_output_opened_once(tmp_path: Path) -> None:
    """Per-song patch differences at run time: the finale's click goes to the guest drummer's channel, and
    its pyro output (opened with the rest, kept across songs) gets the finale's cue; the disk driver says
    which channel sounded when."""
    lights, pyro = UdpReceiver(), UdpReceiver()
    (tmp_path / "venue.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 3, buffer_frames: 256, routes: {click: 2}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {lights.port}}}\n"
        f"songs:\n  finale:\n    routes: {{click: 3}}\n    outputs:\n      pyro: {{type: osc, host: 127.0.0.1, port: {pyro.port}}}\n"
    )
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: venue.yaml\nsetlist:\n  - {song: opener, follow: true, gap: 0.5}\n  - finale\nsongs:\n"
        "  - {id: opener, end: 3.1, tempo: [{bar: 1, bpm: 240}], cues: [{at: 1.1, osc: {to: lights, address: /opener}}]}\n"
        "  - {id: finale, end: 3.1, tempo: [{bar: 1, bpm: 240}], cues: [{at: 2.1, osc: {to: pyro, address: /fire}}]}\n"
    )
    played = tmp_path / "played.raw"
    try:
        result = run_show_to_the_end(show, env={**os.environ, "SDL_DISKAUDIOFILE": str(played)}, driver="disk", log=tmp_path / "l.jsonl")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: len(lights.datagrams) == 1 and len(pyro.datagrams) == 1, timeout=5)
    finally:
        lights.close()
        pyro.close()
    assert OscMessage(lights.datagrams[0][1]).address == "/opener" and OscMessage(pyro.datagrams[0][1]).address == "/fire"
    audio = np.fromfile(played, np.float32).reshape(-1, 3)
    on_2, on_3 = np.flatnonzero(audio[:, 1]), np.flatnonzero(audio[:, 2])
    assert len(on_2) and len(on_3) and on_2[-1] < on_3[0]  # the opener clicks on channel 2, then the finale on channel 3 only
    assert on_3[0] - on_2[0] == 2 * RATE + RATE // 2  # the finale's first click: the opener's 2 s and the 0.5 s gap later
    assert "pyro: up, sent 1" in result.stdout and "lights: up, sent 1" in result.stdout
