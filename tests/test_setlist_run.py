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
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import REPO, beat_cue_lines, run_show_to_the_end, start_show
from peers import Broker, Subscriber, UdpReceiver, free_port, wait_until
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from test_terminal import Tmux

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.app.follow import ArmedFollow, Handover
from showcontrol.app.player import Shapes, SongPlayer
from showcontrol.app.version import bare_version, prepare_cues, prepare_version
from showcontrol.codec import monitor as wire
from showcontrol.engine.plan import StartPlan
from showcontrol.engine.transport import Loop, Pause, Play, Segment, State, Transport
from showcontrol.io.jack_midi import period_runs, runs_from
from showcontrol.load.show_file import load_show
from showcontrol.offline import click_sounds

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


def five_songs(folder: Path, osc_port: int, broker_port: int, bars: int = 2, setlist: str = SETLIST) -> Path:
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
        cues = beat_cue_lines(song, bars)
        songs.append(
            f"  - id: {song}\n    audio: {song}.wav\n    click: false\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: {bpm}}}]\n"
            f"    sections: {{a: 1, b: 2}}\n    cues:\n{cues}\n"
        )
    show = folder / "show.yaml"
    show.write_text("version: 1\npatch: patch.yaml\n" + setlist + "songs:\n" + "".join(songs))
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
        wait_until(lambda: len(receiver.datagrams) == 40)
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


SEGUES = """setlist:
  - {song: s1, follow: true}
  - {song: s2, follow: true, gap: 0.75}
  - s3
"""


def test_a_follow_with_no_gap_starts_on_the_frame_after_the_last_and_monitors_hear_the_stop_before_the_start(
    tmp_path: Path, broker: Broker
) -> None:
    """s1 follows into s2 with no gap, s2 into s3 after 0.75 s, played headless with SDL's disk driver (what the
    callback delivered, to the frame): s2's first sample is the frame after s1's last, s3's 36000 frames after
    s2's; every cue of each song, in order; on the real broker each song's "stopped" comes before the next
    one's "playing", and no song's state after the next one's start."""
    receiver = UdpReceiver()
    states = Subscriber(broker.port, PREFIX + "state/transport")
    played = tmp_path / "played.raw"
    try:
        show = five_songs(tmp_path, receiver.port, broker.port, bars=4, setlist=SEGUES)
        env = {**os.environ, "SDL_DISKAUDIOFILE": str(played)}
        result = run_show_to_the_end(show, env=env, driver="disk", log=tmp_path / "show.jsonl")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: len(receiver.datagrams) == 48, timeout=30)
        wait_until(lambda: any(json.loads(p).get("song") == "s3" and json.loads(p)["state"] == "stopped" for _, _, p in states.lines))
    finally:
        receiver.close()
        states.close()

    cues = [tuple(OscMessage(d).params) for _, d in receiver.datagrams]
    assert cues == [(song, bar, beat) for song in ("s1", "s2", "s3") for bar in range(1, 5) for beat in range(1, 5)]
    audio = np.fromfile(played, np.float32).reshape(-1, 2)[:, 0]
    heard = [(round(value * 10), start, length) for value, start, length in runs(audio) if value]
    assert [(song, length) for song, _, length in heard] == [(1, 4 * RATE), (2, 4 * RATE), (3, 4 * RATE)]
    assert heard[1][1] == heard[0][1] + heard[0][2]  # 0 frames between s1's last sample and s2's first
    assert heard[2][1] - (heard[1][1] + heard[1][2]) == round(0.75 * RATE)  # a gap, still to the frame
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    segues = [r for r in records if r.get("kind") == "song" and r.get("result") == "follows"]
    assert [(r["song"], r["gap_frames"]) for r in segues] == [("s2", 0), ("s3", 36000)]

    told = [(p["song"], p["state"]) for p in (json.loads(payload) for _, _, payload in states.lines)]
    for before, after in (("s1", "s2"), ("s2", "s3")):
        start = told.index((after, "playing"))
        assert (before, "stopped") in told[:start], told  # the song before's stop first...
        assert before not in {song for song, _ in told[start:]}, told  # ...and nothing of it after the next one's start
    takes = [json.loads(line) for line in (tmp_path / f"{show.parent.name}-show.takes.jsonl").read_text().splitlines()]
    assert [(t["song"], t["take"]) for t in takes if t["record"] == "take-start"] == [("s1", 1), ("s2", 1), ("s3", 1)]
    assert [t["status"] for t in takes if t["record"] == "take-end"] == ["complete"] * 3
    assert "3 songs played (s1, s2, s3)" in result.stdout


def test_a_follow_disarmed_by_a_stop_just_before_the_end_does_not_start(tmp_path: Path) -> None:
    """Armed to follow, s1 is stopped in its last second: s2 never starts, s1 stays the song open and standby,
    and the device plays on past where s1's end and s2's start would have been."""
    receiver = UdpReceiver()
    show = five_songs(tmp_path, receiver.port, free_port(), bars=4, setlist=SEGUES)
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {track: 1, click: 2}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {receiver.port}}}\n"
    )  # no broker: only what the set does
    try:
        with ShowRunner(load_show(show), RunOptions(audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:
            runner.play()
            wait_until(lambda: runner.armed_follow == "s2")
            end = runner.timeline.end_frame
            wait_until(lambda: runner.song_frame_now() >= end - RATE)
            runner.stop()
            assert runner.armed_follow is None and runner.song.id == "s1"
            wait_until(lambda: runner.player.quiet)
            past = runner.device.frames_delivered + 2 * RATE  # well past s1's end and where s2 would have started
            wait_until(lambda: runner.device.frames_delivered > past)
            assert (runner.song.id, runner.standby_song, runner.played) == ("s1", "s1", ["s1"])
            assert runner.segment.state is State.STOPPED and runner.transport.ended_at is None  # stopped, never at its end
    finally:
        receiver.close()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert not [r for r in records if r.get("result") == "follows"]
    assert {r["song"] for r in records if r.get("kind") == "transport"} == {"s1"}


def test_another_standby_chosen_while_armed_disarms_the_follow_and_waits_for_go(tmp_path: Path) -> None:
    """s1 is armed to follow into s2; the operator chooses s3 while s1 plays: at s1's end s3 is standby and
    waits for GO (a choice is never started by itself), nothing followed."""
    receiver = UdpReceiver()
    show = five_songs(tmp_path, receiver.port, free_port(), bars=4, setlist=SEGUES)
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {track: 1, click: 2}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {receiver.port}}}\n"
    )
    try:
        with ShowRunner(load_show(show), RunOptions(audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:
            runner.play()
            wait_until(lambda: runner.armed_follow == "s2")
            assert runner.select("3") == "after this song 3: s3"
            assert runner.armed_follow is None
            wait_until(lambda: runner.song.id == "s3" and runner.ready_to_go)  # s1 ended; s3 came in, stopped
            assert runner.played == ["s1"] and runner.segment.state is State.STOPPED and runner.armed_follow is None
    finally:
        receiver.close()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert not [r for r in records if r.get("result") == "follows"]


def test_jack_midi_of_both_songs_leaves_on_its_frames_across_a_hand_over_inside_a_period(jack, tmp_path: Path) -> None:
    """On the JACK client (jackd's dummy backend, 1024-frame periods) a follows into b with no gap; a's end falls
    640 frames into a period, where a's last note (100 frames before its end) and b's first (on its first
    frame) both leave, each on its own frame counted from a's first click, and b's first click on a's end."""
    from test_jack_backend import PERIOD, MidiRecorder

    name = f"segrec{os.getpid()}"
    recorder = MidiRecorder(name)
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 1, buffer_frames: {PERIOD}, routes: {{click: 1}}, "
        f"ports: {{1: '{name}:in_1'}}}}\noutputs:\n  keys: {{type: midi, port: '{name}:midi_in'}}\n"
    )
    note = "{{at: {}, midi: {{to: keys, note_on: [{}, 100]}}}}"
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsetlist:\n  - {song: a, follow: true}\n  - b\nsongs:\n"
        f"  - {{id: a, end: 4.1, tempo: [{{bar: 1, bpm: 240}}], cues: [{note.format('1.1', 60)}, {note.format('3.4.476', 61)}]}}\n"
        f"  - {{id: b, end: 3.1, tempo: [{{bar: 1, bpm: 240}}], cues: [{note.format('1.1', 62)}, {note.format('1.2', 63)}]}}\n"
    )
    a_frames = 3 * 4 * RATE // 4  # 3 bars at 240 bpm
    assert (a_frames % PERIOD, load_show(show).timelines["a"].end_frame) == (640, a_frames)  # the end falls inside a period
    try:
        process = start_show(show, driver=None, log=tmp_path / "show.jsonl")
        _, err = process.communicate(timeout=90)
    finally:
        recorder.close()
    assert process.returncode == 0, err
    onsets = recorder.click_onsets()
    start = onsets[0]  # a's 1.1
    notes = [(frame - start, data[1]) for frame, data in recorder.midi if data[0] & 0xF0 == 0x90]
    assert notes == [(0, 60), (a_frames - 100, 61), (a_frames, 62), (a_frames + RATE // 4, 63)]
    assert start + a_frames in onsets  # b's first click on the frame after a's last
    assert (start + a_frames) // PERIOD == (start + a_frames - 100) // PERIOD  # both songs' notes in one period


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
    """The screen once it shows `text`; else what it showed, and what the show wrote to stderr."""
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
        wait_for_screen(term, "▶ PLAYING", err)
        assert osc_ask(osc_in, "/showcontrol/song", "next") == {"ok": False, "error": "the last song of the set is standby"}  # s5
        assert osc_ask(osc_in, "/showcontrol/song", "2") == {"ok": True, "text": "after this song 2: s2"}  # s4 plays on
        term.keys("s")
        wait_for_screen(term, "s cues a section while stopped", err)
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
        wait_until(lambda: len(lights.datagrams) == 1 and len(pyro.datagrams) == 1)
    finally:
        lights.close()
        pyro.close()
    assert OscMessage(lights.datagrams[0][1]).address == "/opener" and OscMessage(pyro.datagrams[0][1]).address == "/fire"
    audio = np.fromfile(played, np.float32).reshape(-1, 3)
    on_2, on_3 = np.flatnonzero(audio[:, 1]), np.flatnonzero(audio[:, 2])
    assert len(on_2) and len(on_3) and on_2[-1] < on_3[0]  # the opener clicks on channel 2, then the finale on channel 3 only
    assert on_3[0] - on_2[0] == 2 * RATE + RATE // 2  # the finale's first click: the opener's 2 s and the 0.5 s gap later
    assert "pyro: up, sent 1" in result.stdout and "lights: up, sent 1" in result.stdout


def follow_players(tmp_path: Path) -> tuple[SongPlayer, SongPlayer]:
    """s1 and s2 of `five_songs` (2 s of one constant level each), ready to play on a stereo device, s2 on a
    transport made while s1 plays (the generation s1 has then)."""
    loaded = load_show(five_songs(tmp_path, 9, 9))  # nothing is opened: the outputs' ports are never used
    sounds, shapes = click_sounds(RATE), Shapes.make(RATE, 0.0, 256)
    versions = [
        prepare_version(
            loaded.show.song(song_id),
            Fraction(1),
            loaded.timelines[song_id],
            {"track": (0,)},
            sounds,
            prepare_cues(loaded.timelines[song_id], {}),
            RATE,
        )
        for song_id in ("s1", "s2")
    ]
    return SongPlayer(versions[0], shapes), SongPlayer(versions[1], shapes)


def play_armed(before: SongPlayer, armed: ArmedFollow, start_at: int, blocks: int, block: int = 256) -> tuple[np.ndarray, Handover | None]:
    """What the device hears, block by block as the runner's callback renders it: the song before (started at
    device frame `start_at`), handed over to the armed one in the block of its end."""
    before.transport.request(Play(0, 0, at_device_frame=start_at))
    playing, handed, heard = before, None, []
    for k in range(blocks):
        out = np.full((block, 2), np.nan, np.float32)  # SDL does not zero the buffer: every frame must be written
        playing.render(k * block, out)
        if playing is before and (handover := armed.hand_over(k * block, block)) is not None:
            playing, handed = armed.after, handover
            armed.mix(handover, k * block, out)
        heard.append(out[:, 0].copy())
    return np.concatenate(heard), handed


@pytest.mark.parametrize(("start_at", "gap"), [(100, 0), (0, 0), (100, 36000), (300, 17)])
def test_an_armed_follow_is_handed_over_in_the_block_of_the_end_on_the_frame(tmp_path: Path, start_at: int, gap: int) -> None:
    """s1 ends mid-block (or on a block's edge, start 0): s2's first sample is the frame after s1's last plus the
    gap, whole; s1's transport ends there as if it had played on, and s2's generations count on after s1's last."""
    before, after = follow_players(tmp_path)
    armed = ArmedFollow(before, after, gap, StartPlan(0, 0, {}, ()), np.zeros((1024, 2), np.float32))
    heard, handed = play_armed(before, armed, start_at, blocks=(start_at + 2 * 2 * RATE + gap) // 256 + 4)
    assert not np.isnan(heard).any()
    levels = [(round(value * 10), start, length) for value, start, length in runs(heard) if value]
    assert levels == [(1, start_at, 2 * RATE), (2, start_at + 2 * RATE + gap, 2 * RATE)]
    assert handed is not None and handed.ended_at == before.transport.ended_at == start_at + 2 * RATE
    assert before.transport.segment.state is State.STOPPED and before.transport.segment.song_frame == before.transport.end_frame
    assert handed.schedule == ("s1", 1) and handed.segment.state is State.PLAYING  # s1's last playing segment, for JACK MIDI's runs
    assert after.transport.ended_at is not None and handed.playing_generation == before.transport.segment.generation + 1
    assert after.transport.segment.generation > before.transport.segment.generation


def test_a_follow_disarmed_before_the_end_is_not_handed_over_and_the_song_ends_by_itself(tmp_path: Path) -> None:
    before, after = follow_players(tmp_path)
    armed = ArmedFollow(before, after, 0, StartPlan(0, 0, {}, ()), np.zeros((1024, 2), np.float32))
    assert armed.cancel() and not armed.cancel()  # the token is taken once
    heard, handed = play_armed(before, armed, 100, blocks=2 * RATE // 256 + 4)
    assert handed is None and armed.handover is None and after.transport.segment.state is State.STOPPED
    assert [(round(v * 10), s, n) for v, s, n in runs(heard) if v] == [(1, 100, 2 * RATE)]
    assert before.transport.ended_at == 100 + 2 * RATE  # it ended by itself, a block later: the fallback follows from there


def test_the_end_is_foretold_only_where_nothing_can_move_it() -> None:
    """`end_in_block`: the end inside the block just rendered (or on its last edge), unless a command waits or a
    loop reaches the end; `end_now` ends it as the next block would."""
    transport = Transport(1000)
    transport.request(Play(0, 0))
    transport.next_block(0, 256)
    transport.next_block(768, 256)  # song frames 768-1023: the end (1000) sounds at device frame 1000
    assert transport.end_in_block(512, 256) is None and transport.end_in_block(768, 256) == 1000
    transport.request(Pause())
    assert transport.end_in_block(768, 256) is None  # the pause comes first
    looped = Transport(1024)
    looped.request(Play(0, 0))
    looped.request(Loop(512, 1024))
    looped.next_block(0, 256)
    assert looped.end_in_block(768, 256) is None  # at its edge the loop wraps: the song does not end
    ending = Transport(1000)
    ending.request(Play(0, 0))
    ending.next_block(0, 256)
    ending.next_block(768, 256)
    ending.end_now(1024)
    segment = ending.segment
    assert (ending.ended_at, segment.state, segment.device_frame, segment.song_frame) == (1000, State.STOPPED, 1024, 1000)
    following = Transport(1000, generation=1)
    following.request(Play(0, 0, after_generation=7))
    assert following.next_block(1024, 256).generation == 8  # after the song before's last, never colliding with it


def test_the_jack_period_of_a_hand_over_reads_each_song_from_its_own_schedule() -> None:
    before = Segment(5, State.PLAYING, 0, 9000, 0)  # song frames 9000.. from device frame 0; it ends at device frame 1000
    after = Segment(7, State.PLAYING, 768, -232, 0)  # the next song's frame 0 on device frame 1000
    runs_before = period_runs(before, 768, 232, "a")
    assert runs_before == ((0, 9768, 232, "a"),)
    assert runs_from(period_runs(after, 768, 256, "b"), 232) == ((232, 0, 24, "b"),)
    assert runs_from(((0, 10, 100, "b"),), 100) == ()


def test_the_set_list_state_says_which_song_follows_the_one_before_and_reads_back() -> None:
    songs = (wire.SetSong(1, "a", "Alpha", playing=True), wire.SetSong(2, "b", "Beta", standby=True, follows=True))
    payload = wire.encode(wire.SetList(songs))
    assert json.loads(payload)["songs"][1] == {"number": 2, "id": "b", "title": "Beta", "playing": False, "standby": True, "follows": True}
    reading = wire.decode(wire.SETLIST, payload)
    assert reading is not None and reading.message == wire.SetList(songs) and not reading.problems
    older = wire.decode(wire.SETLIST, b'{"songs": [{"number": 1, "id": "a", "standby": true}]}')  # an engine before `follows`
    assert older is not None and older.message == wire.SetList((wire.SetSong(1, "a", "a", standby=True),)) and not older.problems
