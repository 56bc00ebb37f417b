"""Remote control: the pure command parser, the rate limit, the controller on a real running show, and OSC
commands over real UDP and TCP sockets (allow-listed, answered, fuzzed), in process and through `run --osc-in`."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import socket
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from peers import free_port, wait_until
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.codec.osc import parse_packet
from showcontrol.codec.osc_framing import StreamDecoder, frame_slip
from showcontrol.control.commands import Go, Locate, Reply, SelectSong, SetLoop, SetTempo, Status, Stop, parse_command
from showcontrol.control.rate import RateLimit
from showcontrol.engine.transport import State
from showcontrol.io.osc_in import OscInputServer
from showcontrol.load.show_file import load_show
from showcontrol.model.inputs import OscInput
from showcontrol.model.position import BarBeat
from showcontrol.remote.controller import Controller


def osc(address: str, *args: str | int | float) -> bytes:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


def write_show(folder: Path, patch_extra: str = "", songs: int = 2) -> Path:
    (folder / "patch.yaml").write_text(f"version: 1\naudio: {{sample_rate: 48000, channels: 2, buffer_frames: 256}}\n{patch_extra}")
    lines = ["version: 1", "patch: patch.yaml", "songs:"]
    for number in range(1, songs + 1):
        lines += [f"  - id: song{number}", "    end: 9.1", "    tempo: [{bar: 1, bpm: 240}]", "    sections: {intro: 1, verse: 5}"]
    show = folder / "show.yaml"
    show.write_text("\n".join(lines) + "\n")
    return show


# -- the pure parser ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("verb", "args", "expected"),
    [
        ("go", [], Go()),
        ("GO", [17], Go(17)),
        ("locate", [17.0], Locate(bar=17)),
        ("locate", ["chorus"], Locate(section="chorus")),
        ("locate", ["12"], Locate(bar=12)),
        ("song", ["next"], SelectSong("next")),
        ("song", [3], SelectSong("3")),
        ("loop", ["off"], SetLoop()),
        ("loop", [], SetLoop()),
        ("loop", ["verse"], SetLoop(section="verse")),
        ("loop", [5, 8], SetLoop(first=5, last=8)),
        ("loop", ["5-8"], SetLoop(first=5, last=8)),
        ("tempo", [75], SetTempo(Fraction(3, 4))),
        ("tempo", ["80%"], SetTempo(Fraction(4, 5))),
        ("status", [], Status()),
        ("stop", ["ignored"], Stop()),
    ],
)
def test_each_verb_parses_into_its_command(verb: str, args: list[object], expected: object) -> None:
    assert parse_command(verb, args) == expected


@pytest.mark.parametrize(
    ("verb", "args", "reason"),
    [
        ("fire", [], "unknown command 'fire'"),
        ("go", ["x"], "go takes a bar number"),
        ("locate", [], "locate needs"),
        ("locate", [1.5], "locate takes a bar number or a section name"),
        ("tempo", [300], "outside 50-200"),
        ("tempo", ["fast"], "tempo takes a percent"),
        ("loop", [8, 5], "loop takes a section, off, or two bars"),
        ("song", [True], "song needs"),
    ],
)
def test_a_bad_request_is_an_error_reply_with_its_reason(verb: str, args: list[object], reason: str) -> None:
    reply = parse_command(verb, args)
    assert isinstance(reply, Reply) and not reply.ok and reason in reply.text


def test_the_rate_limit_takes_a_burst_then_one_per_tenth_of_a_second_per_source() -> None:
    limit = RateLimit(rate_per_s=10, burst=3)
    assert [limit.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b", 0.0)  # another sender is not held back
    assert not limit.allow("a", 0.05) and limit.allow("a", 0.2)


# -- the controller on a running show ------------------------------------------------------------
@pytest.fixture
def runner(tmp_path: Path):
    options = RunOptions(None, audio_driver="dummy", log_path=tmp_path / "show.jsonl")  # the whole show: song1, then song2
    with ShowRunner(load_show(write_show(tmp_path)), options) as running:
        yield running


def test_the_controller_answers_every_command_and_logs_it_with_its_source(runner: ShowRunner) -> None:
    now = [0.0]
    controller = Controller(runner, clock=lambda: now[0])
    assert controller.handle(Locate(bar=40), "osc-udp:127.0.0.1:9").text == "bar 40 is not in song1"  # past the end
    assert controller.handle(Locate(section="bridge"), "test").text.startswith("no section 'bridge' in song1")
    assert controller.handle(SelectSong("nope"), "test").text == "no song 'nope' in the set; songs: song1, song2"
    assert controller.handle(SelectSong("3"), "test").text == "the set has songs 1-2"
    assert controller.handle(SelectSong("previous"), "test").text == "the first song of the set is standby"
    wait_until(lambda: ("song2", 1) in runner._versions, timeout=30)  # made ready in the background while song1 is open
    assert controller.handle(SelectSong("next"), "test").text == "standby 2: song2" and runner.song.id == "song2"
    assert controller.handle(SelectSong("1"), "test").text == "standby 1: song1"  # forgotten meanwhile: made ready again
    wait_until(lambda: runner.song.id == "song1", timeout=30)
    assert controller.handle(SelectSong("song1"), "test").text == "standby 1: song1"
    assert controller.handle(Locate(section="verse"), "test").text == "cued bar 5"
    assert controller.handle(parse_command("pause"), "test").text == "cannot pause: stopped"
    assert controller.handle(Go(), "osc-udp:127.0.0.1:9").text == "playing song1 from bar 5"
    wait_until(lambda: runner.segment.state is State.PLAYING)
    assert controller.handle(Go(), "mqtt").text == "already playing: stop first"
    bar_5 = runner.timeline.tempo.frame(BarBeat(5), runner.timeline.sample_rate)
    wait_until(lambda: runner.song_frame_now() >= bar_5)  # the bar heard, not the bar asked for: a buffer or more behind
    status = controller.handle(Status(), "test")
    assert status.state["state"] == "playing" and status.state["song"] == "song1" and status.state["bar"] >= 5
    assert [s["name"] for s in status.state["sections"]] == ["intro", "verse"]
    assert status.state["set_list"] == ["song1", "song2"] and status.state["standby"] == "song2"  # after song1
    assert controller.handle(parse_command("pause"), "keys").ok
    wait_until(lambda: runner.segment.state is State.PAUSED)
    assert controller.handle(parse_command("resume"), "keys").ok
    assert controller.handle(Stop(), "keys").ok
    wait_until(lambda: runner.segment.state is State.STOPPED)
    refused = [controller.handle(Status(), "osc-udp:10.0.0.9:1000").ok for _ in range(12)]
    assert refused.count(False) == 2 and controller.refused == 2  # 10 at once, then the limit
    runner.showlog.__exit__(None, None, None)  # type: ignore[union-attr]  # flush: the fixture's exit finds it closed
    records = [json.loads(line) for line in (runner.showlog.path).read_text().splitlines()]  # type: ignore[union-attr]
    commands = [r for r in records if r.get("kind") == "command"]
    assert {"source": "osc-udp:127.0.0.1:9", "command": "go", "result": "ok"}.items() <= commands[10].items()
    assert commands[11]["result"] == "error: already playing: stop first" and commands[11]["source"] == "mqtt"
    assert commands[0]["args"] == {"bar": "40"}


def test_a_locate_takes_every_position_run_from_takes(runner: ShowRunner) -> None:
    controller = Controller(runner)
    assert controller.handle(Locate(section="verse:2.3"), "test").text == "cued bar 6 beat 3"
    assert controller.handle(Locate(section="6.5"), "test").text == "bar 6 has 4 beats (4/4)"
    assert controller.handle(Locate(section="0:01.9"), "test").text == "cued bar 2 beat 4"  # the beat at or before: 1.75 s
    assert runner.cue_at == BarBeat(2, 4)
    assert controller.handle(Go(), "test").text == "playing song1 from bar 2"
    assert runner.cue_bar == 2 and runner.cue_at == BarBeat(2, 4)


# -- OSC over real sockets -------------------------------------------------------------------------
def udp_ask(port: int, packet: bytes, timeout: float = 3.0) -> list[tuple[str, dict[str, Any]]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.settimeout(timeout)
        sender.sendto(packet, ("127.0.0.1", port))
        try:
            data = sender.recv(65536)
        except TimeoutError:
            return []
    message = OscMessage(data)
    return [(message.address, json.loads(str(message.params[0])))]


def test_osc_over_udp_and_tcp_drives_the_show_and_answers_the_sender(runner: ShowRunner) -> None:
    spec = OscInput(free_port(), ("udp", "tcp"))
    with OscInputServer(spec, Controller(runner).handle) as server:
        [(address, reply)] = udp_ask(spec.port, osc("/showcontrol/go"))
        assert address == "/showcontrol/reply/go" and reply["ok"] and reply["text"].startswith("playing song1")
        wait_until(lambda: runner.segment.state is State.PLAYING)
        [(_, reply)] = udp_ask(spec.port, osc("/showcontrol/go"))
        assert reply == {"ok": False, "error": "already playing: stop first"}
        [(_, reply)] = udp_ask(spec.port, osc("/showcontrol/status"))
        assert reply["state"]["state"] == "playing"
        assert udp_ask(spec.port, b"\x00garbage", timeout=0.3) == []
        with socket.create_connection(("127.0.0.1", spec.port), timeout=3) as tcp:  # OSC 1.1: SLIP frames
            tcp.sendall(frame_slip(osc("/showcontrol/stop")) + frame_slip(osc("/showcontrol/locate", "verse")))
            decoder, packets = StreamDecoder("slip"), list[bytes]()
            while len(packets) < 2:
                packets += decoder.feed(tcp.recv(65536))
        replies = [json.loads(str(OscMessage(p).params[0])) for p in packets]
        assert [r["text"] for r in replies] == ["stopped", "cued bar 5"]
        assert (server.counts.malformed, server.counts.taken, server.counts.refused) == (1, 4, 1)  # the second go refused


def test_osc_from_an_address_not_allowed_is_dropped_unanswered_and_counted(runner: ShowRunner) -> None:
    spec = OscInput(free_port(), ("udp", "tcp"), allow=(ipaddress.ip_network("10.0.0.0/24"),))
    with OscInputServer(spec, Controller(runner).handle) as server:
        assert server.bind_host == "0.0.0.0"
        assert udp_ask(spec.port, osc("/showcontrol/go"), timeout=0.5) == []
        with socket.create_connection(("127.0.0.1", spec.port), timeout=3) as tcp:
            tcp.sendall(frame_slip(osc("/showcontrol/go")))
            with contextlib.suppress(ConnectionResetError):  # closed before our bytes arrived: the same
                assert tcp.recv(100) == b""  # closed at once, unanswered
        assert server.counts.not_allowed == 2 and server.counts.taken == server.counts.refused == 0
    assert runner.segment.state is State.STOPPED


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_the_osc_parser_survives_any_packet(data: bytes) -> None:
    messages = parse_packet(data)
    assert messages is None or all(isinstance(address, str) for address, _ in messages)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([b"/showcontrol/locate\x00,", b"#bundle\x00", b"/showcontrol/go\x00\x00,s\x00\x00"]), st.binary(max_size=256))
def test_osc_packets_that_start_like_commands_never_get_past_the_parser(head: bytes, tail: bytes) -> None:
    replies: list[object] = []
    server = OscInputServer(OscInput(1), lambda command, source: replies.append(command) or Reply(True, "ok"))  # type: ignore[func-returns-value]
    server.answer(head + tail, "127.0.0.1", 9, "udp")  # never raises; a command it reads is a typed one or an error reply
    assert all(type(r).__module__ == "showcontrol.control.commands" for r in replies)


def test_run_osc_in_takes_a_go_from_a_desk_and_logs_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    show, port = write_show(tmp_path), free_port()
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "dummy", "--osc-in", str(port),
               "--log", str(tmp_path / "show.jsonl")]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        replies: list[tuple[str, dict[str, Any]]] = []
        while not replies and time.monotonic() < deadline:  # until the show is open and listening
            replies = udp_ask(port, osc("/showcontrol/status"), timeout=0.5)
        assert replies and replies[0][1]["state"]["state"] == "stopped"  # waits for its GO
        [(_, reply)] = udp_ask(port, osc("/showcontrol/go", 5))
        assert reply["text"] == "playing song1 from bar 5"
        while udp_ask(port, osc("/showcontrol/status"))[0][1]["state"]["state"] != "stopped":  # to the end
            time.sleep(0.25)  # a desk polling status stays under the rate limit
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM, err  # stopped by the signal, in order
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    [go] = [r for r in records if r.get("kind") == "command"]
    assert go["command"] == "go" and go["source"].startswith("osc-udp:127.0.0.1:") and go["args"] == {"bar": "5"}
    assert "OSC input: 3" in err or "OSC input:" in err


def test_the_run_report_counts_what_each_input_took_refused_and_dropped(tmp_path: Path) -> None:
    """Real UDP senders against `run`: commands taken and refused, packets from an address not allowed
    (127.0.0.2), a malformed one and a burst over the rate limit dropped; the end report says how many of
    each, per input, as the desk saw them answered (one socket, so a late answer is seen too)."""
    import subprocess
    import sys

    port = free_port()
    show = write_show(tmp_path, f"inputs:\n  osc: {{port: {port}, allow: [127.0.0.1]}}\n")
    command = [
        sys.executable,
        "-m",
        "showcontrol",
        "run",
        str(show),
        "--headless",
        "--audio-driver",
        "dummy",
        "--log",
        str(tmp_path / "show.jsonl"),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answered: list[tuple[str, dict[str, object]]] = []  # (verb, reply)
    show_port = ("127.0.0.1", port)

    def receive() -> tuple[str, dict[str, object]]:
        message = OscMessage(desk.recv(65536))
        answered.append((message.address.rsplit("/", 1)[-1], json.loads(str(message.params[0]))))
        return answered[-1]

    def ask(packet: bytes, verb: str) -> None:
        desk.sendto(packet, show_port)
        while receive()[0] != verb:
            pass

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as desk, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            desk.settimeout(0.5)
            deadline = time.monotonic() + 30
            while not answered and time.monotonic() < deadline:  # until the show is open and listening
                desk.sendto(osc("/showcontrol/status"), show_port)
                with contextlib.suppress(TimeoutError):
                    receive()
            desk.settimeout(30)  # an answer a loaded machine is slow to send is still awaited
            ask(osc("/showcontrol/go"), "go")
            ask(osc("/showcontrol/go"), "go")  # already playing: refused
            ask(osc("/showcontrol/locate", "nowhere"), "locate")  # no such section: refused
            desk.sendto(b"\x00garbage", show_port)
            stranger.bind(("127.0.0.2", 0))
            for _ in range(2):
                stranger.sendto(osc("/showcontrol/stop"), show_port)
            statuses_before = sum(verb == "status" for verb, _ in answered)  # every earlier answer came before the go's
            for _ in range(40):  # a stuck button: far over 10 a second
                desk.sendto(osc("/showcontrol/status"), show_port)
            while sum(verb == "status" for verb, _ in answered) < statuses_before + 40:  # each answered, however slowly
                receive()
            stranger.settimeout(0.1)
            with pytest.raises(TimeoutError):
                stranger.recv(65536)  # dropped unanswered
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM, err
    replies = [reply for _, reply in answered]
    limited = sum(str(r.get("error", "")).startswith("too many commands") for r in replies)
    taken = sum(bool(r["ok"]) for r in replies)
    assert sum(verb == "status" for verb, _ in answered) >= 41 and limited > 0  # all 40 answered, some over the limit
    assert len(replies) - taken - limited == 2  # the go while playing, the section that is not there
    expected = f"OSC in (udp port {port}): taken {taken}, refused 2, dropped {2 + 1 + limited} (2 not allowed, 1 malformed, {limited} rate-limited)"
    assert f"  {expected}\n" in out, out
