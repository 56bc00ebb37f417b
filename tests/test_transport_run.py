"""The operator's transport on a running show (in process, SDL's dummy driver, a real UDP receiver):
pause holds every cue and resume carries on where it was; stop silences; a locate plays from the new bar;
and the audio device policy (fall back loudly and say SILENT, or refuse a named device that is missing
or a real one that is required)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import run_show_to_the_end
from peers import Subscriber, UdpReceiver, wait_until
from pythonosc.osc_message import OscMessage

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.engine.transport import State
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat


def beat_show(folder: Path, osc_port: int, bars: int = 8, audio: str = "") -> Path:
    (folder / "patch.yaml").write_text(f"""version: 1
audio: {{sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {{click: [1, 2]}}{audio}}}
outputs:
  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}
""")
    cues = "\n".join(
        f"      - {{at: {bar}.{beat}, osc: {{to: lights, address: /beat, args: [{bar}, {beat}]}}}}"
        for bar in range(1, bars + 1)
        for beat in range(1, 5)
    )
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: beats\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    return show


def received(receiver: UdpReceiver) -> list[tuple[int, int]]:
    return [tuple(OscMessage(d).params) for _, d in receiver.datagrams]


def received_at_least(receiver: UdpReceiver, count: int, timeout: float = 30) -> list[tuple[int, int]]:
    """The cues received once `count` have come in (or the timeout passed: the caller's assert then says
    what came): a loaded machine delivers the last ones some time after the song stopped."""
    deadline = time.monotonic() + timeout
    while len(receiver.datagrams) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return received(receiver)


def beat_frame(bar: int, beat: int) -> int:
    """The song frame of a beat of `beat_show` (240 bpm: 12000 frames a beat at 48 kHz)."""
    return ((bar - 1) * 4 + beat - 1) * 12000


@pytest.fixture
def runner(tmp_path: Path):
    receiver = UdpReceiver()
    loaded = load_show(beat_show(tmp_path, receiver.port))
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    with ShowRunner(loaded, options) as running:
        yield running, receiver
    receiver.close()


def test_pause_holds_every_cue_and_resume_carries_on(runner) -> None:
    show, receiver = runner
    show.play()
    wait_until(lambda: len(receiver.datagrams) >= 6)
    show.pause()
    wait_until(lambda: show.segment.state is State.PAUSED)
    paused_at = show.segment.song_frame
    time.sleep(1.5)  # six beats' worth of wall time: nothing may fire while paused
    while_paused = received(receiver)  # the cues of the audio played before the pause may still be arriving...
    assert all(beat_frame(*cue) < paused_at for cue in while_paused), (paused_at, while_paused)  # ...none after it
    show.resume()
    wait_until(lambda: show.segment.state is State.STOPPED)  # plays to the end
    assert received_at_least(receiver, 32) == [(bar, beat) for bar in range(1, 9) for beat in range(1, 5)]  # each once, in order


def test_stop_silences_and_a_locate_plays_from_the_new_bar(runner) -> None:
    show, receiver = runner
    show.play()
    wait_until(lambda: len(receiver.datagrams) >= 3)
    show.stop()
    wait_until(lambda: show.segment.state is State.STOPPED)
    stopped_at = show.segment.song_frame
    show.locate(6)
    show.play()
    wait_until(lambda: show.segment.state is State.PLAYING)
    wait_until(lambda: show.segment.state is State.STOPPED)
    # Told apart by content, not by when they came: the first take's last cues may arrive after the stop
    cues = received_at_least(receiver, 12 + 3)
    first_take, second_take = cues[: cues.index((6, 1))], cues[cues.index((6, 1)) :]
    top = [(bar, beat) for bar in range(1, 9) for beat in range(1, 5)]
    assert len(first_take) >= 3 and first_take == top[: len(first_take)]  # from the top, each once...
    assert all(beat_frame(*cue) < stopped_at for cue in first_take), (stopped_at, first_take)  # ...none after the stop
    assert second_take == [(bar, beat) for bar in range(6, 9) for beat in range(1, 5)]


def test_without_any_interface_the_show_runs_silent_and_says_so(tmp_path: Path, broker) -> None:
    """No device named, none there (no sound card, no server): the demo still runs, on the dummy driver,
    but the report, the performers' monitors and the exit status say that nothing was heard."""
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=2)
    with (tmp_path / "patch.yaml").open("a") as patch:
        patch.write(f"  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: stage/}}\n")
    monitors = Subscriber(broker.port, "stage/state/audio")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE", "JACK", "XDG_RUNTIME"))}
    try:
        result = run_show_to_the_end(show, env=env, driver=None)
    finally:
        receiver.close()
        monitors.close()
    assert [json.loads(payload)["health"] for _, _, payload in monitors.lines] == ["silent"]  # never "ok"
    assert result.returncode == 3, result.stderr  # ExitStatus.SILENT
    assert "NO AUDIO DEVICE" in result.stderr and "--require-audio" in result.stderr and "3-4 %" in result.stderr
    assert "now SILENT (no device)" in result.stdout and "now ok" not in result.stdout
    assert len(receiver.datagrams) == 8  # the cues still ran, on the dummy driver's clock (all in: closed after the run)


@pytest.mark.parametrize("how", ["patch", "--audio-device"])
def test_a_named_interface_that_is_missing_is_an_error_not_a_silent_show(tmp_path: Path, how: str) -> None:
    audio = ", device: No Such Interface" if how == "patch" else ""
    args = ("--audio-device", "No Such Interface") if how == "--audio-device" else ()
    receiver = UdpReceiver()
    try:
        result = run_show_to_the_end(beat_show(tmp_path, receiver.port, bars=2, audio=audio), *args, driver=None)
    finally:
        receiver.close()
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("showcontrol: ") and "No Such Interface" in last and "will not play silently" in last, result.stderr
    assert receiver.datagrams == [] and "Traceback" not in result.stderr


def test_alsa_without_a_sound_card_says_what_to_do_instead(tmp_path: Path) -> None:
    if Path("/dev/snd").exists():
        pytest.skip("this machine has ALSA sound cards")
    result = run_show_to_the_end(beat_show(tmp_path, 9, bars=2), driver="alsa")
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert "ALSA finds no sound card" in last and "--audio-driver pulseaudio" in last and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("audio", "args"),
    [("", ("--audio-driver", "dummy", "--require-audio")), (", device: No Such Interface, require: true", ())],
    ids=["--require-audio", "patch audio.require"],
)
def test_a_required_audio_device_that_is_missing_is_a_clear_error(tmp_path: Path, audio: str, args: tuple[str, ...]) -> None:
    result = run_show_to_the_end(beat_show(tmp_path, 9, bars=2, audio=audio), *args, driver=None)
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("showcontrol: ") and "a real audio device is required" in last and "Traceback" not in result.stderr


def test_the_devices_own_latency_is_waited_once_and_the_patchs_calibration_on_top(tmp_path: Path) -> None:
    """The device says its latency live (a buffer on SDL, the ports' on JACK) and the scheduler adds it to
    every deadline; the dispatcher is given only the patch's calibration. Both, before, put every cue a
    buffer late (5.3 ms at 256 frames: bench/heard.py, SDL and JACK alike)."""
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=2, audio=", output_latency_ms: 2.5")
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(show), options) as running:
            running.play()
            wait_until(lambda: running.player.dispatcher is not None)
            dispatcher = running.player.dispatcher
            assert dispatcher is not None and dispatcher.config.device_latency_ns == 2_500_000
            assert running.session.link is not None and running.session.link.device.latency_frames == 256
    finally:
        receiver.close()


def test_starting_at_a_bar_rebuilds_state_first_and_never_fires_once_cues(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port)
    patch = tmp_path / "patch.yaml"
    patch.write_text(patch.read_text().replace(f"port: {receiver.port}}}", f"port: {receiver.port}, on_locate: last}}"))
    show.write_text(
        show.read_text().replace("    cues:\n", "    sections: {verse: 1, chorus: 5}\n    cues:\n      - {at: 2.1, name: haze, once: true, osc: {to: lights, address: /haze}}\n"
                                 "      - {at: 6.1, name: confetti, once: true, osc: {to: lights, address: /confetti}}\n")
    )  # fmt: skip
    options = RunOptions("beats", start=BarBeat(5), audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(show), options) as running:
            running.play()
            wait_until(lambda: running.segment.state is State.PLAYING)
            wait_until(lambda: running.segment.state is State.STOPPED)
            received_at_least(receiver, 1 + 16)  # the look at bar 5, then bars 5-8
    finally:
        receiver.close()
    messages = [OscMessage(d) for _, d in receiver.datagrams]
    assert [(m.address, tuple(m.params)) for m in messages[:2]] == [("/beat", (4, 4)), ("/beat", (5, 1))]  # the look at bar 5, then bar 5
    assert [tuple(m.params) for m in messages[1:]] == [(bar, beat) for bar in range(5, 9) for beat in range(1, 5)]
    assert "/confetti" not in [m.address for m in messages] and "/haze" not in [m.address for m in messages]
    log = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert sorted(r["cue"] for r in log if r.get("kind") == "skipped") == ["confetti", "haze"]
    rebuilt = [r for r in log if str(r.get("result", "")).startswith("rebuild")]
    assert [(r["kind"], r["message"]) for r in rebuilt] == [
        ("section", {"section": "verse"}),
        ("osc", {"address": "/beat", "args": [4, 4]}),
    ]


def test_a_loop_re_arms_its_cues_each_pass_and_the_song_carries_on_when_released(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=5)
    show.write_text(
        show.read_text().replace(
            "    cues:\n", "    cues:\n      - {at: 2.3, name: confetti, once: true, osc: {to: lights, address: /confetti}}\n"
        )
    )
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(show), options) as running:
            running.loop(2, 3)
            running.play()
            wait_until(lambda: [OscMessage(d).params for _, d in receiver.datagrams].count([2, 1]) >= 3)  # into the third pass
            running.release_loop()  # that pass plays to its end, then bars 4 and 5
            wait_until(lambda: running.segment.state is State.STOPPED)
            wait_until(lambda: [OscMessage(d).params for _, d in receiver.datagrams][-1:] == [[5, 4]])  # the song's last beat
    finally:
        receiver.close()
    messages = [OscMessage(d) for _, d in receiver.datagrams]
    beats = [tuple(m.params) for m in messages if m.address == "/beat"]
    loop_pass = [(bar, beat) for bar in (2, 3) for beat in range(1, 5)]
    passes = beats.count((2, 1))  # three, or one more when a loaded machine releases the loop after the wrap
    assert passes >= 3 and beats == [(1, b) for b in range(1, 5)] + loop_pass * passes + [(bar, b) for bar in (4, 5) for b in range(1, 5)]
    assert [m.address for m in messages].count("/confetti") == 1  # fired on the way in, never again in a loop pass


def test_a_show_log_the_disk_will_not_take_costs_lines_never_the_show(tmp_path: Path) -> None:
    """/dev/full fails every write with ENOSPC, as a full disk does: the show plays on, every cue goes out."""
    receiver = UdpReceiver()
    try:
        result = run_show_to_the_end(beat_show(tmp_path, receiver.port), log=Path("/dev/full"))
    finally:
        receiver.close()
    assert result.returncode == 0, result.stderr
    assert received(receiver) == [(bar, beat) for bar in range(1, 9) for beat in range(1, 5)]
    assert result.stderr.count("show log /dev/full: cannot write (No space left on device)") == 1  # once, not per line
    assert "Traceback" not in result.stderr
    assert "show log: /dev/full (" in result.stdout and "lines could not be written: No space left on device" in result.stdout


def test_a_show_log_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    result = run_show_to_the_end(beat_show(tmp_path, 9), log=tmp_path / "not-a-folder" / "show.jsonl")
    assert result.returncode == 1
    assert "cannot write the show log" in result.stderr and "give another with --log FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_start_bar_past_the_end_is_a_clear_error(tmp_path: Path) -> None:
    result = run_show_to_the_end(beat_show(tmp_path, 9, bars=8), "--from", "999")  # it used to wait forever
    assert result.returncode == 2 and "--from 999: beats has bars 1-8" in result.stderr
