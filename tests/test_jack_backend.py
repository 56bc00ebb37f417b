"""The JACK backend on jackd's dummy backend: a port per patch channel named after what it carries, connected
to the patch's destinations (again when one comes back), each captured by a real JACK client; and a server
that dies under the show, reported as a lost device while the show keeps time."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libltc
import numpy as np
import pytest
from conftest import REPO, mostly_at, showcontrol, start_show, write_tone
from peers import Jack, _start_jack, wait_until

if TYPE_CHECKING:
    from showcontrol.audio.jack_device import JackDevice

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


def restore_jack_env(before: dict[str, str]) -> None:
    """The JACK variables of this process as they were `before` a server of a test's own was started."""
    for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", "JACK_NO_AUDIO_RESERVATION"):
        if key in before:
            os.environ[key] = before[key]
        else:
            os.environ.pop(key, None)


class Recorder:
    """A JACK client with an input port per channel, keeping all it is given."""

    def __init__(self, name: str, channels: int, client: Any = None) -> None:
        self.client = client or jack.Client(name, no_start_server=True)
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


def feed_of(channel: np.ndarray, lib: ctypes.CDLL | None) -> str:
    sounding = np.flatnonzero(np.abs(channel) > 1e-4)
    if not len(sounding):
        return "silence"
    if len(libltc.decode(lib, channel, 48000 / 25)) > 10:
        return "ltc"
    return "track" if mostly_at(channel[sounding[0] : sounding[-1] + 1], 220) else "click"


def jack_ports() -> str:
    """The ports of the server this process's clients open on, as `jack_lsp` lists them (one per line)."""
    return subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=30).stdout


def wait_for_the_shows_ports(process: subprocess.Popen[str]) -> None:
    """Until the show's JACK client has registered its ports on the fixture's server (or it died: said)."""
    deadline = time.monotonic() + 30
    while "showcontrol:ltc" not in jack_ports():
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)


@pytest.mark.skipif(libltc.load() is None, reason="needs libltc (libltc11)")
def test_each_channel_is_a_named_port_connected_where_the_patch_says(jack, tmp_path: Path) -> None:
    recorder_name = f"rec{os.getpid()}"
    show = write_show(tmp_path, recorder_name)
    process = start_show(show, driver=None)
    try:
        wait_for_the_shows_ports(process)
        ports = jack_ports().splitlines()
        recorder = Recorder(recorder_name, 4)  # it comes after the show opened: connected when it appears
        out, err = process.communicate(timeout=60)
        recorder.close()
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert {"showcontrol:track L", "showcontrol:track R", "showcontrol:click", "showcontrol:ltc", "showcontrol:click ava"} <= set(ports)
    assert "audio: JACK showcontrol (jack), now ok" in out
    assert f"'{recorder_name}:in_3', the patch's destination for 'click', is not there (yet): connected when it appears" in err
    audio = recorder.audio()
    lib = libltc.load()
    assert [feed_of(audio[:, k], lib) for k in range(4)] == ["track", "track", "click", "ltc"]


def test_periods_the_server_ran_without_the_shows_audio_are_counted_in_the_report(jack, tmp_path: Path) -> None:
    """An xrun is a gap the audience heard: the server's count of them for our client is in the run's
    report. The show is stopped (SIGSTOP) for 0.3 s mid-song, a few hundred periods of jackd's at 1024."""
    show = write_show(tmp_path, f"rec{os.getpid()}")
    process = start_show(show, driver=None)
    try:
        wait_for_the_shows_ports(process)
        time.sleep(1.0)
        process.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    found = re.search(r"JACK xruns: (\d+), cycles missed: ([\d.]+) ms", out)
    assert found is not None, out + err
    assert int(found.group(1)) >= 1, out
    assert float(found.group(2)) >= 300 - 2 * PERIOD / 48, out  # the cycles of the stop, less the two it may have begun in


def test_a_jack_server_that_dies_mid_song_is_reported_and_the_show_keeps_time(tmp_path: Path) -> None:
    before = dict(os.environ)
    server = _start_jack(f"scdie{os.getpid()}", "-r")  # a server of its own: this one is killed
    restore_jack_env(before)  # _start_jack steered this process to its server
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
        server.process.terminate()  # the server stops under the show (SIGKILL would leave its entry in JACK's registry)
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


def test_a_jack_sample_rate_other_than_the_patchs_is_a_clear_error(jack, tmp_path: Path) -> None:
    show = write_show(tmp_path, "nobody")
    patch = tmp_path / "patch.yaml"
    patch.write_text(patch.read_text().replace("sample_rate: 48000", "sample_rate: 44100"))
    process = start_show(show, driver=None)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "the JACK server runs at 48000 Hz, the patch at 44100 Hz: set audio.sample_rate: 48000" in err.splitlines()[-1]
    assert "NULL" not in err and "Traceback" not in err


def test_a_patch_with_no_jack_destinations_says_its_ports_play_to_nothing(jack, tmp_path: Path) -> None:
    show = write_show(tmp_path, "nobody")
    patch = tmp_path / "patch.yaml"
    patch.write_text(re.sub(r", ports: \{[^}]*\}", "", patch.read_text()))
    assert "ports" not in patch.read_text()
    process = start_show(show, driver=None)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "the patch lists no destination ports (audio.ports): 'track L', 'track R', 'click', 'ltc', 'click ava' play to nothing" in err


@pytest.mark.parametrize("option", [("--audio-device", "Fireface"), ("--audio-driver", "pulseaudio")])
def test_an_sdl_output_asked_for_on_a_jack_patch_is_a_bad_option_not_ignored(tmp_path: Path, option: tuple[str, str]) -> None:
    show = write_show(tmp_path, "nobody")
    done = showcontrol("run", str(show), "--headless", *option)
    assert done.returncode == 2, done.stderr
    assert f"{option[0]} {option[1]}: this patch plays through JACK (audio.backend: jack)" in done.stderr
    assert "Traceback" not in done.stderr


class MidiRecorder(Recorder):
    """A JACK client recording, on the server's frame line, an audio port (the click) and a MIDI port."""

    def __init__(self, name: str) -> None:
        self.midi: list[tuple[int, bytes]] = []  # (absolute frame, message)
        self.starts: list[int] = []  # the absolute frame of each audio block
        client = jack.Client(name, no_start_server=True)
        self.midi_port = client.midi_inports.register("midi_in")
        self.client = client
        super().__init__(name, 1, client)

    def _process(self, frames: int) -> None:
        start = self.client.last_frame_time
        self.starts.append(start)
        for offset, data in self.midi_port.incoming_midi_events():
            self.midi.append((start + offset, bytes(data)))
        super()._process(frames)

    def click_onsets(self) -> list[int]:
        return click_onsets(self.audio()[:, 0], self.starts, [len(b) for b in self.blocks])


def click_onsets(audio: np.ndarray, starts: list[int], lengths: list[int]) -> list[int]:
    """The absolute JACK frame where each click begins (the first sample after silence)."""
    frames = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=False)])
    sounding = np.abs(audio) > 1e-6
    begins = np.flatnonzero(sounding & ~np.concatenate([[False], sounding[:-1]]))
    return [int(frames[i]) for i in begins if i == 0 or not sounding[max(0, i - 200) : i].any()]


ACTIONS = ("note_on: [61, 100]", "cc: [7, 90]", "program: 5", "msc: {command: go, cue: 12.5, list: 1}")


def test_midi_leaves_on_the_frame_of_its_event_like_the_click(jack, tmp_path: Path) -> None:
    """Notes, CC, program changes, MSC, MIDI clock and MTC to a MIDI output the JACK client carries, and the
    click on an audio port: a JACK recording client sees every message on its event's own frame, counted from
    the frame where the first click begins (0 frames error), and each note on its beat's click."""
    from showcontrol.io.jack_midi import JackMidiOutput
    from showcontrol.load.show_file import load_show
    from showcontrol.timeline.events import Kind

    name = f"midirec{os.getpid()}"
    recorder = MidiRecorder(name)
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 1, buffer_frames: {PERIOD}, routes: {{click: 1}}, "
        f"ports: {{1: '{name}:in_1'}}}}\noutputs:\n  keys: {{type: midi, port: '{name}:midi_in', clock: true, mtc: true}}\n"
    )
    cues = "\n".join(
        f"      - {{at: {bar}.{beat}, midi: {{to: keys, {ACTIONS[(bar * 4 + beat) % 4]}}}}}" for bar in (1, 2, 3) for beat in (1, 2, 3, 4)
    )
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 4.1\n    tempo: [{bar: 1, bpm: 240}]\n"
        f"    timecode: {{rate: 25, start: '01:00:00:00'}}\n    cues:\n{cues}\n"
    )
    try:
        process = start_show(show, driver=None)
        _, err = process.communicate(timeout=60)
    finally:
        recorder.close()
    assert process.returncode == 0, err
    loaded = load_show(show)
    output = JackMidiOutput(loaded.show.patch.outputs["keys"], 48000, lambda: None)  # type: ignore[arg-type,return-value]
    expected = [
        (e.at_frame, bytes(output.prepare(e)))
        for e in loaded.timelines["s"].events
        if e.output == "keys" and e.kind in (Kind.MIDI, Kind.SYNC)
    ]
    onsets = recorder.click_onsets()
    song_start = onsets[0]  # the first click is on song frame 0
    errors, cursor = [], 0
    for frame, message in expected:  # in order; transport messages (Start, song position, full frame) come between
        found = next(i for i in range(cursor, len(recorder.midi)) if recorder.midi[i][1] == message)
        errors.append(recorder.midi[found][0] - song_start - frame)
        cursor = found + 1
    kinds = {message[0] & 0xF0 for _, message in expected} | {message[0] for _, message in expected}
    assert {0x90, 0xB0, 0xC0, 0xF0, 0xF8, 0xF1} <= kinds  # notes, CC, program, MSC (SysEx), clock, MTC quarter frames
    assert errors == [0] * len(expected), [e for e in errors if e]
    notes = [frame for frame, data in recorder.midi if data[0] & 0xF0 == 0x90]
    assert len(notes) == 3 and set(notes) <= set(onsets)  # each note on the very frame of its beat's click


def test_a_start_from_a_later_bar_sends_the_state_before_it_and_the_end_leaves_no_note_held(jack, tmp_path: Path) -> None:
    """On the JACK client as on rtmidi: `--from 3 --count-in 1` with `on_locate: per_address` sends the
    latest program and controllers before bar 3 at the start, nothing of bar 2 again as its count-in plays
    over it, bar 3's note on its frame and not the `once` cue after it (a take not from the top); the end
    sends all notes off while the client still runs; each message is booked as sent, none as dropped."""
    name = f"locaterec{os.getpid()}"
    recorder = MidiRecorder(name)
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 1, buffer_frames: {PERIOD}, routes: {{click: 1}}, "
        f"ports: {{1: '{name}:in_1'}}}}\noutputs:\n  keys: {{type: midi, port: '{name}:midi_in', on_locate: per_address}}\n"
    )
    cues = ["1.1, midi: {to: keys, program: 3}", "1.2, midi: {to: keys, cc: [7, 100]}", "2.1, midi: {to: keys, cc: [7, 60]}"]
    cues += ["2.3, midi: {to: keys, cc: [10, 64]}", "3.1, midi: {to: keys, note_on: [62, 100]}"]
    cues += ["3.3, name: pyro, once: true, midi: {to: keys, note_on: [63, 127]}"]
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 4.1\n    tempo: [{bar: 1, bpm: 240}]\n    cues:\n"
        + "".join(f"      - {{at: {cue}}}\n" for cue in cues)
    )
    try:
        process = start_show(show, "--from", "3", "--count-in", "1", driver=None, log=tmp_path / "show.jsonl")
        out, err = process.communicate(timeout=60)
    finally:
        recorder.close()
    assert process.returncode == 0, err
    heard = [data.hex() for _, data in recorder.midi]
    assert heard[:4] == ["c003", "b0073c", "b00a40", "903e64"], heard  # the program, each controller's latest, bar 3's note
    assert "903f7f" not in heard and "b07b00" in heard[4:], heard  # no pyro; all notes off, after the song
    results = [json.loads(line).get("result", "") for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    midi = [r for r in results if "frame" in r or "JACK" in r or "dropped" in r or "once" in r]
    assert midi == ["rebuild: sent: on its frame"] * 3 + ["skipped: once cue, take not from the top", "sent: on its frame"], midi
    assert re.search(r"keys: up, sent 4, late \d+, dropped 0, errors 0\n", out), out  # the run's report, no error left in it


LOOP_NOTES = {"1.1": 60, "1.4.476": 61, "2.1": 62, "3.4.476": 63, "4.1": 64}  # 476 ticks: 100 frames before the next bar


def test_midi_on_both_sides_of_a_loops_wrap_inside_a_period_leaves_on_its_frame(jack, tmp_path: Path) -> None:
    """A loop over bars 2-3 at 240 BPM wraps 640 frames into a 1024-frame period: the note 100 frames before
    the loop's end leaves in that period before the seam, the note on the loop's start at the seam, each
    pass; the note 100 frames before the loop's start is played once, in the first pass only."""
    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.engine.transport import State
    from showcontrol.load.show_file import load_show
    from showcontrol.timeline.events import Kind

    name = f"looprec{os.getpid()}"
    recorder = MidiRecorder(name)
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 1, buffer_frames: {PERIOD}, routes: {{click: 1}}, "
        f"ports: {{1: '{name}:in_1'}}}}\noutputs:\n  keys: {{type: midi, port: '{name}:midi_in'}}\n"
    )
    cues = "\n".join(f"      - {{at: {at}, midi: {{to: keys, note_on: [{note}, 100]}}}}" for at, note in LOOP_NOTES.items())
    show = tmp_path / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 5.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    loaded = load_show(show)
    song_frames = {e.payload.data[0]: e.at_frame for e in loaded.timelines["s"].events if e.kind is Kind.MIDI}  # type: ignore[union-attr]
    assert (song_frames[64] % PERIOD, song_frames[64] - song_frames[63]) == (640, 100)  # the seam inside a period, a note just before
    notes = lambda: [(frame, data[1]) for frame, data in recorder.midi if data[0] & 0xF0 == 0x90]  # noqa: E731
    try:
        with ShowRunner(loaded, RunOptions("s", log_path=tmp_path / "show.jsonl")) as runner:
            assert runner.driver == "jack"
            runner.loop(2, 3)
            runner.play()
            wait_until(lambda: [n for _, n in notes()].count(62) >= 2)  # in the second pass
            runner.release_loop()
            wait_until(lambda: runner.segment.state is State.STOPPED)
    finally:
        recorder.close()
    heard = notes()
    passes = [n for _, n in heard].count(62)
    assert [n for _, n in heard] == [60, 61] + [62, 63] * passes + [64], heard  # 61 once, 63 at every pass
    song_start = recorder.click_onsets()[0]  # the click of 1.1
    loop_frames = 2 * 48000
    expected = [song_frames[60], song_frames[61]]
    for k in range(passes):
        expected += [song_frames[62] + k * loop_frames, song_frames[63] + k * loop_frames]
    expected.append(song_frames[64] + (passes - 1) * loop_frames)
    assert [frame - song_start for frame, _ in heard] == expected, heard


def server_latency(port: str, env: dict[str, str] | None = None, under: tuple[str, ...] = ()) -> int:
    """The playback latency the server reports for a port (`jack_lsp -l`, run `under` pw-jack for PipeWire's): the top of its range, in frames."""
    listing = subprocess.run([*under, "jack_lsp", "-l", port], env=env, capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"port playback latency = \[ (\d+) (\d+) \]", listing)
    assert found is not None, listing
    return int(found.group(2))


def silence(_first_frame: int, out: np.ndarray) -> None:
    out.fill(0.0)


def latency_seen(device: JackDevice) -> int:
    device.maintain()  # what the audio watch does every 0.1 s: read again what a latency callback marked stale
    return int(device.latency_frames)


def test_the_latency_cues_take_is_the_one_the_server_reports_for_the_tracks_ports(jack) -> None:
    """jackd's dummy backend (async, as jackd runs by default) reports two periods from a cycle to its
    playback ports, not the one period assumed before; connected elsewhere (a recorder takes a port in the
    same cycle: 0), the server recomputes latencies, calls back, and the device reads the new figure."""
    from showcontrol.audio.jack_device import JackDevice

    recorder = Recorder(f"latrec{os.getpid()}", 2)
    device = JackDevice(48000, 2, {"track": (0, 1)}, {}, silence)  # connected by hand here
    try:
        with device:
            device.start()
            assert latency_seen(device) == PERIOD  # connected nowhere: one period, as assumed before
            for side, k in (("L", 1), ("R", 2)):
                subprocess.run(["jack_connect", f"showcontrol:track {side}", f"system:playback_{k}"], check=True)
            wait_until(lambda: latency_seen(device) == server_latency("showcontrol:track L") == 2 * PERIOD)
            for side, k in (("L", 1), ("R", 2)):
                subprocess.run(["jack_disconnect", f"showcontrol:track {side}", f"system:playback_{k}"], check=True)
                subprocess.run(["jack_connect", f"showcontrol:track {side}", f"latrec{os.getpid()}:in_{k}"], check=True)
            wait_until(lambda: latency_seen(device) == server_latency("showcontrol:track L") == 0)
    finally:
        recorder.close()


LATENCY_SCRIPT = """
import os, subprocess, sys, time
import numpy as np
from showcontrol.audio.jack_device import JackDevice
device = JackDevice(48000, 2, {"track": (0, 1)}, {0: (sys.argv[1],), 1: (sys.argv[2],)}, lambda _f, out: out.fill(0.0))
with device:
    device.start()
    deadline = time.monotonic() + 60
    while "nullsink" not in subprocess.run(["jack_lsp", "-c", "showcontrol:track L"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "never connected"
        time.sleep(0.05)
    for _ in range(5):  # the audio watch's turns: a latency callback's news is read on the next
        time.sleep(0.1)
        device.maintain()
    listing = subprocess.run(["jack_lsp", "-l", "showcontrol:track L"], capture_output=True, text=True).stdout
    print(device.latency_frames, listing.split("port playback latency = [ ")[1].split()[1], flush=True)
os._exit(0)  # as `run` ends: PipeWire's JACK still runs the client (JackDevice.__exit__), no teardown may wait on it
"""


@pytest.mark.skipif(shutil.which("pw-jack") is None, reason="needs pw-jack (pipewire-jack)")
def test_on_pipewires_jack_the_latency_cues_take_is_the_one_it_reports(sound_server, tmp_path: Path) -> None:
    """PipeWire's JACK reports the latency of the null sink's ports (it mixes what a cycle wrote in that
    cycle): the device takes that, not one period, which put cues a period late into the sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env | {"PYTHONPATH": str(REPO)}
    result = subprocess.run(
        ["pw-jack", sys.executable, "-c", LATENCY_SCRIPT, "nullsink:playback_FL", "nullsink:playback_FR"],
        env=env, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    used, reported = result.stdout.split()
    assert used == reported, result.stdout  # the server's word for our port (0 into a null sink), not a period's 1024


def jack_beat_show(tmp_path: Path, name: str, port: int, bars: int) -> tuple[Jack, Path]:
    """A JACK server of the test's own named `name`, and a beat show on the JACK backend cueing UDP `port`."""
    from test_transport_run import beat_show

    server = _start_jack(name, "-r")
    if server is None:
        pytest.skip("jackd cannot start here")
    show = beat_show(tmp_path, port, bars=bars, audio=", backend: jack")
    patch = tmp_path / "patch.yaml"
    patch.write_text(patch.read_text().replace("buffer_frames: 256", f"buffer_frames: {PERIOD}"))
    return server, show


def test_a_jack_server_restarted_while_stopped_is_played_on_again(tmp_path: Path) -> None:
    """The server dies mid-song: the show goes on in time on the stand-in; stopped, the server comes back
    (the same name, as a restarted jackd): the client is opened again, never playing by itself, and plays."""
    from peers import UdpReceiver
    from test_transport_run import received

    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.audio.link import AudioHealth
    from showcontrol.engine.transport import State
    from showcontrol.load.show_file import load_show

    before = dict(os.environ)
    name = f"screstart{os.getpid()}"
    receiver = UdpReceiver()
    server: Jack | None
    server, show = jack_beat_show(tmp_path, name, receiver.port, bars=40)
    try:
        with ShowRunner(load_show(show), RunOptions("beats", log_path=tmp_path / "show.jsonl")) as runner:
            assert runner.driver == "jack"
            runner.play()
            wait_until(lambda: len(received(receiver)) >= 4)
            server.process.terminate()
            wait_until(lambda: runner.link.health is AudioHealth.LOST)
            count = len(received(receiver))
            wait_until(lambda: len(received(receiver)) >= count + 4)  # on the stand-in: the show keeps time
            runner.stop()
            server.stop()
            server = _start_jack(name, "-r")
            assert server is not None
            wait_until(lambda: runner.link.health is AudioHealth.OK, timeout=60)
            assert runner.driver == "jack" and runner.segment.state is State.STOPPED
            count, frames = len(received(receiver)), runner.device.frames_delivered
            runner.play()
            wait_until(lambda: len(received(receiver)) >= count + 4)
            assert runner.device.frames_delivered > frames
    finally:
        receiver.close()
        if server is not None:
            server.stop()
        restore_jack_env(before)


def test_a_jack_server_back_before_the_next_go_is_played_on_from_that_go(tmp_path: Path) -> None:
    """The server dies mid-song and is back before the song ends; the next song is GOne the moment the
    song has ended (as a headless set does), before the audio watch's turn: it plays on JACK, not on the
    stand-in until the set is over."""
    from peers import UdpReceiver
    from test_transport_run import received

    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.audio.link import AudioHealth
    from showcontrol.load.show_file import load_show
    from showcontrol.takes.listing import status_text
    from showcontrol.takes.record import fold

    before = dict(os.environ)
    name = f"scback{os.getpid()}"
    receiver = UdpReceiver()
    server: Jack | None
    server, show = jack_beat_show(tmp_path, name, receiver.port, bars=6)
    song = show.read_text().split("songs:\n", 1)[1]
    show.write_text(show.read_text() + song.replace("- id: beats", "- id: next", 1))  # a set of two
    try:
        with ShowRunner(load_show(show), RunOptions(log_path=tmp_path / "show.jsonl")) as runner:
            runner.play()
            wait_until(lambda: len(received(receiver)) >= 2)
            server.process.terminate()
            wait_until(lambda: runner.link.health is AudioHealth.LOST)
            server.stop()
            server = _start_jack(name, "-r")
            assert server is not None and runner.driver == "dummy"  # the stand-in, while the song plays
            wait_until(lambda: runner.ready_to_go)
            runner.play()
            assert runner.driver == "jack" and runner.song.id == "next"
            count, frames = len(received(receiver)), runner.device.frames_delivered
            wait_until(lambda: len(received(receiver)) >= count + 4)
            assert runner.device.frames_delivered > frames
            takes_path = runner.takes.path
    finally:
        receiver.close()
        if server is not None:
            server.stop()
        restore_jack_env(before)
    assert takes_path is not None
    takes = fold(json.loads(line) for line in takes_path.read_text().splitlines())
    assert [(t.song, t.audio.startswith("AUDIO LOST at 0:00."), status_text(t)) for t in takes] == [
        ("beats", True, "complete, audio lost"),  # the song played to its end, but was not heard whole
        ("next", False, "interrupted"),  # quit while it played, on JACK
    ]


RECORDER_SCRIPT = """
import os, signal, sys, threading, numpy as np, jack
client = jack.Client(sys.argv[1], no_start_server=True)
ports = [client.inports.register(f"in_{k + 1}") for k in range(int(sys.argv[2]))]
midi_in = client.midi_inports.register("midi_in")
blocks, starts, notes = [], [], []
def process(frames):
    if done.is_set():
        return
    start = client.last_frame_time
    starts.append(start)
    notes.extend(start + offset for offset, data in midi_in.incoming_midi_events() if bytes(data)[0] & 0xF0 == 0x90)
    blocks.append(np.stack([p.get_array().copy() for p in ports], axis=1))
client.set_process_callback(process)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
client.activate()
print("ready", flush=True)
done.wait()
kept = blocks[: len(blocks)]  # a callback already under way may still add one: not to these
np.savez(sys.argv[3], audio=np.concatenate(kept), starts=np.array(starts[: len(kept)]), lengths=np.array([len(b) for b in kept]), notes=np.array(notes))
os._exit(0)  # never deactivated: PipeWire's JACK would cancel the process thread, maybe waiting for the GIL (JackDevice.__exit__)
"""


def run_or_show_where_it_hangs(command: list[str], env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a show to its end; one that hangs is made to print every thread's Python stack (faulthandler, on
    SIGABRT) and fails with it, so a hang under pw-jack says where it waits."""
    process = subprocess.Popen(
        command, env={**env, "PYTHONFAULTHANDLER": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate(timeout=30)
        pytest.fail(f"the show hung for {timeout_s:g} s; its threads:\n{err[-8000:]}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def played_under_pw_jack(show: Path, recorder: str, channels: int, env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    """`run` of `show` under pw-jack at the fixture's period, while a recorder named `recorder` with
    `channels` inputs keeps what it is sent (folder/rec.npz)."""
    subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", str(PERIOD)], env=env, capture_output=True, check=True)
    recording = subprocess.Popen(
        ["pw-jack", sys.executable, "-c", RECORDER_SCRIPT, recorder, str(channels), str(folder / "rec.npz")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert recording.stdout is not None and recording.stdout.readline().strip() == "ready"
        command = ["pw-jack", sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--log", str(folder / "show.jsonl")]
        return run_or_show_where_it_hangs(command, env)
    finally:
        recording.terminate()
        recording.wait(10)
        subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", "0"], env=env, capture_output=True)


@pytest.mark.skipif(libltc.load() is None or shutil.which("pw-jack") is None, reason="needs libltc and pw-jack (pipewire-jack)")
def test_on_pipewires_jack_each_channel_lands_on_its_port(sound_server, tmp_path: Path) -> None:
    """The same show through PipeWire's JACK (pw-jack), as on a current desktop: ports per channel, 1:1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env
    name = f"pwrec{os.getpid()}"
    show = write_show(tmp_path, name)
    result = played_under_pw_jack(show, name, 4, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(jack), now ok" in result.stdout
    assert re.search(r"JACK xruns: \d+, cycles missed: (none|[\d.]+ ms)", result.stdout), result.stdout
    audio = np.load(tmp_path / "rec.npz")["audio"]
    lib = libltc.load()
    assert [feed_of(audio[:, k], lib) for k in range(4)] == ["track", "track", "click", "ltc"]


@pytest.mark.skipif(shutil.which("pw-jack") is None, reason="needs pw-jack (pipewire-jack)")
def test_on_pipewires_jack_midi_leaves_on_the_frame_of_its_beats_click(sound_server, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env
    name = f"pwmidi{os.getpid()}"
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\naudio: {{backend: jack, sample_rate: 48000, channels: 1, buffer_frames: {PERIOD}, routes: {{click: 1}}, "
        f"ports: {{1: '{name}:in_1'}}}}\noutputs:\n  keys: {{type: midi, port: '{name}:midi_in'}}\n"
    )
    cues = "\n".join(
        f"      - {{at: {bar}.{beat}, midi: {{to: keys, note_on: [{60 + beat}, 100]}}}}" for bar in (1, 2) for beat in (1, 2, 3, 4)
    )
    show = tmp_path / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    result = played_under_pw_jack(show, name, 1, env, tmp_path)
    assert result.returncode == 0, result.stderr
    recorded = np.load(tmp_path / "rec.npz")
    onsets = click_onsets(recorded["audio"][:, 0], list(recorded["starts"]), list(recorded["lengths"]))
    notes = [int(n) for n in recorded["notes"]]
    assert len(notes) == 8 and len(onsets) == 8 and [n - o for n, o in zip(notes, onsets, strict=True)] == [0] * 8, (notes, onsets)


def jack_module_client(name: str, port: str) -> Any:
    """A JACK client of the test's with one audio input port, active."""
    client = jack.Client(name, no_start_server=True)
    client.inports.register(port)
    client.activate()
    return client


def test_devices_shows_the_jack_servers_period_ports_and_their_latency(jack) -> None:
    """`devices` on jackd's dummy backend: the server's rate and period, each playback port with the latency
    range the server reports for it (`jack_lsp -l`), the latency cues would wait there (two periods, as the
    backend takes it: test_the_latency_cues_take_...), how to connect; a port name is never printed raw."""
    from conftest import showcontrol

    hostile = jack_module_client(f"evil{os.getpid()}", "in\x1b[2J\x07")
    try:
        result = showcontrol("devices")
    finally:
        hostile.deactivate()
        hostile.close()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"JACK server: 48000 Hz, period {PERIOD} frames (21.33 ms)" in out and f"buffer_frames: {PERIOD}" in out, out
    for k in (1, 2):
        reported = server_latency(f"system:playback_{k}")
        assert reported == 2 * PERIOD
        assert f"    system:playback_{k} (physical): {reported}..{reported} frames ({reported * 1000 / 48000:.2f} ms)\n" in out, out
    assert f"output_latency_ms: 42.67 ms ({2 * PERIOD} frames) on system:playback_1, system:playback_2" in out, out
    assert "jack_connect 'showcontrol:track L' system:playback_1" in out
    assert f"evil{os.getpid()}:in\\x1b[2J\\x07" in out and "\x1b" not in out and "\x07" not in out


def test_devices_with_no_jack_server_says_none_runs_and_how_to_start_one(tmp_path: Path) -> None:
    """No server of that name, and autostarting allowed by the environment: `devices` says so in one line,
    starts none (JackNoStartServer) and does not wait."""
    from conftest import showcontrol

    name = f"nobody{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | {"JACK_DEFAULT_SERVER": name}
    result = showcontrol("devices", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("JACK")]
    assert len(lines) == 1 and lines[0].startswith("JACK: no server is running (nothing was started)"), result.stdout
    assert "jackd -d dummy" in lines[0] and "pw-jack" in lines[0]
    assert subprocess.run(["jack_lsp"], env=env | {"JACK_NO_START_SERVER": "1"}, capture_output=True).returncode != 0  # none started


def test_devices_with_a_stopped_jack_server_says_it_does_not_answer_and_does_not_hang(tmp_path: Path) -> None:
    """A server that is there but stopped (SIGSTOP): `devices` says so after its bounded wait, asks it
    nothing more (rtmidi's JACK client would wait for it forever) and exits."""
    from conftest import showcontrol

    before = dict(os.environ)
    server = _start_jack(f"scstop{os.getpid()}", "-r")
    restore_jack_env(before)  # _start_jack steered this process to its server
    if server is None:
        pytest.skip("jackd cannot start here")
    try:
        server.process.send_signal(signal.SIGSTOP)
        result = showcontrol("devices", env={**os.environ, **server.env})
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()
    assert result.returncode == 0, result.stderr
    assert "JACK: a server is there but did not answer within 20 s (stopped or hung?): restart it" in result.stdout, result.stdout
    assert "MIDI outputs (jack): not asked (the JACK server does not answer)" in result.stdout


def test_a_show_on_a_stopped_jack_server_says_it_does_not_answer_and_does_not_hang(tmp_path: Path) -> None:
    """A server that is there but stopped (SIGSTOP) as the show opens: libjack would wait for it forever;
    the run says the server does not answer, after its bounded wait, and exits."""
    before = dict(os.environ)
    server = _start_jack(f"scstoprun{os.getpid()}", "-r")
    restore_jack_env(before)  # _start_jack steered this process to its server
    if server is None:
        pytest.skip("jackd cannot start here")
    show = write_show(tmp_path, "nobody")
    try:
        server.process.send_signal(signal.SIGSTOP)
        process = start_show(show, driver=None, env={**os.environ, **server.env})
        _, err = process.communicate(timeout=120)
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()
    assert process.returncode == 1, err
    assert "the JACK server did not answer within 5 s (stopped or hung?): restart it" in err.splitlines()[-1], err
    assert "Traceback" not in err


def test_a_show_whose_server_stops_as_it_lets_the_client_in_says_so_and_exits(own_jack: Jack, tmp_path: Path) -> None:
    """The server registers the show's client, then stops (SIGSTOP), told by another client's registration
    callback: the show's next call (a port, its activation) is unanswered. The run says the server does not
    answer, after its bounded wait, and exits with that call's thread still blocked in libjack; the server,
    continued, has no client of the show's left."""
    show = write_show(tmp_path, "nobody")
    patch = tmp_path / "patch.yaml"  # 64 channels: 64 ports to register after the open, each a call the stop can land on
    patch.write_text(patch.read_text().replace("channels: 5,", "channels: 64,"))
    stopped = threading.Event()

    def on_client(name: str, registered: bool) -> None:
        if registered and name.startswith("showcontrol") and not stopped.is_set():
            own_jack.process.send_signal(signal.SIGSTOP)
            stopped.set()

    watcher = jack.Client(f"watch{os.getpid()}", no_start_server=True)
    watcher.set_client_registration_callback(on_client)
    watcher.activate()
    process = start_show(show, driver=None)  # on own_jack's server, which it steered this process's environment to
    try:
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
        own_jack.process.send_signal(signal.SIGCONT)
        watcher.deactivate()
        watcher.close()
    assert stopped.is_set(), err
    assert process.returncode == 1, err
    assert "the JACK server did not answer within 5 s (stopped or hung?): restart it" in err.splitlines()[-1], err
    assert "Traceback" not in err
    wait_until(lambda: "showcontrol:" not in jack_ports())


@pytest.fixture(autouse=True)
def no_call_left_waiting() -> Iterator[None]:
    """A JACK call a test left unanswered would make every later one in this process refused at once."""
    from showcontrol.audio import jack_calls

    yield
    wait_until(lambda: jack_calls.unanswered() == 0)


def test_a_destination_named_by_its_alias_is_connected(jack) -> None:
    """As jack_connect finds a port: by its name or an alias (jackd's alsa_pcm:, PipeWire's stable names)."""
    from showcontrol.audio.jack_device import JackDevice

    recorder = Recorder(f"aliasrec{os.getpid()}", 1)
    alias = f"stable{os.getpid()}:in_1"
    recorder.ports[0].set_alias(alias)
    device = JackDevice(48000, 2, {"track": (0, 1)}, {0: (alias,)}, silence)
    try:
        with device:
            device.start()

            def connected() -> bool:
                device.maintain()  # the audio watch's turn
                return "showcontrol:track L" in {p.name for p in recorder.ports[0].connections}

            wait_until(connected)
    finally:
        recorder.close()


@pytest.fixture
def own_jack() -> Iterator[Jack]:
    """A jackd of the test's own (it is stopped with SIGSTOP), which this process's clients open on."""
    before = dict(os.environ)
    server = _start_jack(f"scown{os.getpid()}", "-r")
    if server is None:
        restore_jack_env(before)
        pytest.skip("jackd cannot start here")
    try:
        yield server
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()
        restore_jack_env(before)


def test_a_server_that_stops_answering_before_the_show_joins_its_graph_is_said_and_the_client_closed_later(own_jack: Jack) -> None:
    """The server let the client in, then stopped (SIGSTOP) before jack_activate, which libjack would wait
    on forever: start says it does not answer; once the server answers, the client nobody plays is closed."""
    from showcontrol.audio.device import AudioDeviceError
    from showcontrol.audio.jack_device import JackDevice

    device = JackDevice(48000, 2, {"track": (0, 1)}, {}, silence).__enter__()
    assert "showcontrol:track L" in jack_ports()
    own_jack.process.send_signal(signal.SIGSTOP)
    said: list[BaseException] = []
    try:

        def start() -> None:
            try:
                device.start()
            except AudioDeviceError as error:
                said.append(error)

        starting = threading.Thread(target=start, daemon=True)
        starting.start()
        starting.join(60)
        assert not starting.is_alive(), "start waited on the stopped server"
        assert str(said[0]) == "the JACK server did not answer within 5 s (stopped or hung?): restart it"
        device.__exit__(None, None, None)  # what the show does next: nothing asked of the server
    finally:
        own_jack.process.send_signal(signal.SIGCONT)
    wait_until(lambda: "showcontrol:" not in jack_ports())  # closed by the late answer's handler
    assert device.frames_delivered == 0  # nothing rendered for a client given up on


def test_a_client_the_server_runs_before_the_show_starts_it_plays_silence_and_renders_nothing(jack) -> None:
    """An activation answered after the show gave it up runs the client nobody plays: until `start`, its
    process callback must write silence and never call the show's render (nor move its clock)."""
    from showcontrol.audio.jack_calls import within
    from showcontrol.audio.jack_device import JackDevice

    rendered: list[int] = []

    def loud(first_frame: int, out: np.ndarray) -> None:
        rendered.append(first_frame)
        out.fill(0.5)

    recorder = Recorder(f"early{os.getpid()}", 2)
    try:
        with JackDevice(48000, 2, {"track": (0, 1)}, {}, loud) as device:
            within(device._client.activate, 10, late=lambda _: None)  # type: ignore[attr-defined]  # the server running it before the show's start
            for k, port in enumerate(device._ports, 1):
                subprocess.run(["jack_connect", port.name, f"early{os.getpid()}:in_{k}"], check=True)  # type: ignore[attr-defined]
            heard = len(recorder.audio())
            wait_until(lambda: len(recorder.audio()) > heard + 8 * PERIOD)  # eight periods run, connected
            assert not rendered and device.frames_delivered == 0 and device.clock is None
            assert not np.any(recorder.audio())
            device.start()  # the same client, now the show's: it plays (so the recorder would have heard it)
            wait_until(lambda: bool(np.any(recorder.audio() == 0.5)))
            assert rendered and device.frames_delivered > 0
    finally:
        recorder.close()


def test_the_audio_watch_goes_on_while_a_connection_it_asked_for_is_unanswered(own_jack: Jack) -> None:
    """A destination appears, and the server stops before the connection is made: maintain (the audio
    watch's turn) gives up on it after CONNECT_WITHIN_S, asks nothing more while it is unanswered, and the
    connection is there once the server answers."""
    from showcontrol.audio.jack_device import JackDevice

    name = f"conrec{os.getpid()}"
    device = JackDevice(48000, 2, {"track": (0, 1)}, {0: (f"{name}:in_1",)}, silence).__enter__()
    recorder = None
    try:
        device.start()  # its destination is not there yet
        recorder = Recorder(name, 1)
        own_jack.process.send_signal(signal.SIGSTOP)
        for calls_waiting in (1, 1):  # the second turn asks nothing: the first call is still unanswered
            turn = threading.Thread(target=device.maintain, daemon=True)
            turn.start()
            turn.join(60)
            assert not turn.is_alive(), "maintain waited on the stopped server"
            assert [t.name for t in threading.enumerate()].count("jack-call") == calls_waiting
        own_jack.process.send_signal(signal.SIGCONT)
        wait_until(lambda: "showcontrol:track L" in {p.name for p in recorder.ports[0].connections})
    finally:
        own_jack.process.send_signal(signal.SIGCONT)
        if recorder is not None:
            recorder.close()
        device.__exit__(None, None, None)


@pytest.mark.skipif(shutil.which("pw-jack") is None, reason="needs pw-jack (pipewire-jack)")
def test_under_pw_jack_devices_shows_pipewires_jack_ports_and_where_midi_goes(sound_server) -> None:
    """`pw-jack showcontrol devices`: PipeWire's JACK, its null sink's ports with the latency it reports
    (`jack_lsp -l` under pw-jack), and, as rtmidi's own libjack cannot reach it, where MIDI goes instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env
    result = subprocess.run(
        ["pw-jack", sys.executable, "-m", "showcontrol", "devices"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^JACK server: 48000 Hz, period \d+ frames", out, re.MULTILINE), out
    for side in ("FL", "FR"):
        reported = server_latency(f"nullsink:playback_{side}", env, under=("pw-jack",))
        assert re.search(rf"^    nullsink:playback_{side} \(physical\): \d+\.\.{reported} frames ", out, re.MULTILINE), out
    assert "rtmidi's own libjack does not reach it (PipeWire's JACK)" in out and "no JACK server" not in out


CLOSE_SCRIPT = """
import os, sys, threading, time
from showcontrol.audio.jack_device import JackDevice
done = threading.Event()
def want_the_gil():  # as a show's other threads do, whenever the process callback wants it too
    while not done.is_set():
        sum(range(2000))
for _ in range(2):
    threading.Thread(target=want_the_gil, daemon=True).start()
for cycle in range(int(sys.argv[1])):
    device = JackDevice(48000, 2, {"track": (0, 1)}, {}, lambda _f, out: out.fill(0.0))
    with device:
        device.start()
        deadline = time.monotonic() + 30
        while device.frames_delivered < 4 * device.buffer_frames:  # playing: its callback takes the GIL each period
            assert time.monotonic() < deadline, "no callbacks"
            time.sleep(0.01)
    print("closed", device.left_running, flush=True)
done.set()
os._exit(0)  # as `run` ends a process whose client PipeWire's JACK still runs
"""


@pytest.mark.skipif(shutil.which("pw-jack") is None, reason="needs pw-jack (pipewire-jack)")
def test_on_pipewires_jack_closing_a_playing_client_never_hangs_the_process(sound_server) -> None:
    """pw-jack's jack_deactivate pthread_cancels the thread of the process callback; in Python that thread is
    often waiting for the GIL, and cancelled there it took the GIL's mutex with it: the whole show hung at its
    end (2 runs in 40 loaded). Twelve clients opened, played and closed while other threads want the GIL: each
    is left to the process's end instead, and the process ends (before: a hang, about one close in ten)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")} | sound_server.env | {"PYTHONPATH": str(REPO)}
    result = run_or_show_where_it_hangs(["pw-jack", sys.executable, "-c", CLOSE_SCRIPT, "12"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["closed True"] * 12, result.stdout
