"""`run` at a real terminal: stray input (arrows, function keys, Alt+key, a paste) never moves the show, Ctrl-C
asks as `q` does and always leaves the terminal as it was, and the status line and key help fit the terminal's
width, cut by whole fields with what is not ok kept. A pty or tmux drives a real `showcontrol run`."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO
from peers import free_port
from test_transport_run import wait_until

from showcontrol.ui.keys import Parsed, parse_keys
from showcontrol.ui.status import CUEING, DETAIL, ESSENTIAL, Field, fit

DOWN, F5, ALT_P, F1_SS3 = b"\x1b[B", b"\x1b[15~", b"\x1bp", b"\x1bOP"
PASTE = b"\x1b[200~p t 1520020199\r\x1b[201~"


def test_escape_sequences_are_dropped_whole() -> None:
    assert parse_keys(DOWN + F5 + ALT_P + F1_SS3 + b"\x1b[1;5A" + b"c") == Parsed("c")
    assert parse_keys(b"12" + DOWN + b"\r") == Parsed("12\r")  # typing a bar survives an arrow in between
    assert parse_keys(b" \x03q\x7f") == Parsed(" \x03q\x7f")  # space, Ctrl-C, q and Backspace are keys
    assert parse_keys("é".encode() + b"p") == Parsed("p")  # non-ASCII is no key


def test_a_paste_is_dropped_whole_and_counted() -> None:
    assert parse_keys(b"c" + PASTE + b"q") == Parsed("cq", pastes=1)
    assert parse_keys(PASTE + PASTE) == Parsed("", pastes=2)


def test_sequences_split_across_reads_are_kept_for_the_next() -> None:
    assert parse_keys(b"c\x1b[1") == Parsed("c", rest=b"\x1b[1")
    assert parse_keys(b"\x1b[15~q") == Parsed("q")
    assert parse_keys(b"\x1b") == Parsed("", rest=b"\x1b")  # Escape, or the start of a sequence: wait a moment
    assert parse_keys(b"\x1b", final=True) == Parsed("")  # nothing followed: a lone Escape key, dropped
    first = parse_keys(b"\x1b[200~p t 15")
    assert first == Parsed("", pasting=True, pastes=1)
    second = parse_keys(b"20 B\x1b[20", first.pasting)
    assert second == Parsed("", rest=b"\x1b[20", pasting=True)
    assert parse_keys(second.rest + b"1~ q", second.pasting) == Parsed(" q")


def test_the_status_line_drops_whole_fields_last_ranked_first() -> None:
    fields = [
        Field("▶ s", ESSENTIAL),
        Field("3.2", ESSENTIAL),
        Field("⚠ down: keys", ESSENTIAL),
        Field("verse", DETAIL),
        Field("next x in 7.5s", CUEING),
    ]
    assert fit(fields, 200) == "▶ s | 3.2 | ⚠ down: keys | verse | next x in 7.5s"
    assert fit(fields, 42) == "▶ s | 3.2 | ⚠ down: keys | next x in 7.5s"
    assert fit(fields, 30) == "▶ s | 3.2 | ⚠ down: keys"
    assert fit(fields, 12) == "▶ s | 3.2"  # narrower than the essentials: whole fields from the end
    song = [Field("▶ slow-burn", CUEING, short="▶"), Field("1.2", ESSENTIAL), Field("verse", DETAIL), Field("next red in 16.0s", CUEING)]
    assert fit(song, 40) == "▶ slow-burn | 1.2 | next red in 16.0s"  # whole while its rank stays
    assert fit(song, 20) == "▶ | 1.2"  # then the song's name gives way, its state stays


def quiet_show(folder: Path) -> Path:
    """A 40-bar song with cues to OSC and an MQTT output that is down (no broker on its port)."""
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256}\noutputs:\n"
        f"  lights: {{type: osc, host: 127.0.0.1, port: {free_port(2)}}}\n"
        f"  monitors: {{type: mqtt, host: 127.0.0.1, port: {free_port()}, topic_prefix: t/}}\n"
    )
    cues = "\n".join(f"      - {{at: {bar}.1, name: keys pad in {bar}, osc: {{to: lights, address: /go}}}}" for bar in range(2, 40))
    show = folder / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: long\n    end: 41.1\n    tempo: [{bar: 1, bpm: 120}]\n"
        f"    sections: {{slow-burn-intro: 1}}\n    cues:\n{cues}\n"
    )
    return show


class Terminal:
    """`showcontrol run` on a real pty, its screen read all the time (a terminal nobody reads would block it)."""

    def __init__(self, show: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "showcontrol",
            "run",
            str(show),
            "--audio-driver",
            "dummy",
            "--log",
            str(show.with_suffix(".jsonl")),
        ]
        self.controller, self.terminal = pty.openpty()
        termios.tcsetwinsize(self.terminal, (24, 120))
        self.cooked = termios.tcgetattr(self.terminal)
        self.process = subprocess.Popen(
            command, stdin=self.terminal, stdout=self.terminal, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True
        )
        self.screen = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        wait_until(lambda: b"space go/stop" in self.screen and not termios.tcgetattr(self.terminal)[3] & termios.ICANON)

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.controller, 65536):
                self.screen.extend(chunk)

    def type(self, keys: bytes) -> None:
        os.write(self.controller, keys)

    def since(self, mark: int) -> str:
        return self.screen[mark:].decode(errors="replace")

    def close(self) -> str:
        self.process.kill()
        err = self.process.stderr.read() if self.process.stderr else ""
        self.left = termios.tcgetattr(self.terminal)  # how the show left the terminal
        os.close(self.controller)
        os.close(self.terminal)
        return err


def test_stray_input_at_the_terminal_moves_nothing(tmp_path: Path) -> None:
    show = quiet_show(tmp_path)
    marks = tmp_path / "show.long.marks.yaml"
    term = Terminal(show)
    try:
        term.type(b" ")
        wait_until(lambda: "▶ long" in term.since(0))
        mark = len(term.screen)
        term.type(DOWN + F5 + ALT_P + F1_SS3)
        term.type(PASTE)
        time.sleep(1.5)
        seen = term.since(mark)
        assert "⏸" not in seen and "tap" not in seen and "not in" not in seen and "▶ long" in seen  # not paused, no tap, no locate
        assert not marks.exists()  # no breath marker from Down's B
        term.type(b"c")  # a real key still works
        wait_until(marks.exists)
        term.type(b"qq")
        term.process.wait(30)
    finally:
        err = term.close()
    assert term.process.returncode == 0, err
    assert err.count("a paste was ignored") == 1


@pytest.mark.parametrize("playing", [True, False])
def test_ctrl_c_at_the_terminal_asks_while_playing_and_restores_the_terminal(tmp_path: Path, playing: bool) -> None:
    term = Terminal(quiet_show(tmp_path))
    try:
        wait_until(lambda: b"cued bar 1" in term.screen)
        if playing:
            term.type(b" ")
            wait_until(lambda: "▶ long" in term.since(0))
            term.type(b"\x03")
            wait_until(lambda: "press again to quit (3 s)" in term.since(0))
            time.sleep(3.5)
            assert term.process.poll() is None  # one Ctrl-C did not end the show...
            mark = len(term.screen)
            time.sleep(0.5)
            assert "press again" not in term.since(mark)  # ...and the question went when it stopped being true
            term.type(b"\x03")
            wait_until(lambda: "press again to quit (3 s)" in term.since(mark))
        term.type(b"\x03")
        term.process.wait(30)
        time.sleep(0.2)
    finally:
        err = term.close()
    assert term.process.returncode == 130, err  # as a SIGINT ends a headless run
    out = term.since(0)
    assert "long: fired" in out and "show log:" in out  # the whole report...
    assert re.search(r"\| cued bar 1[^\n]*\r?\n", out) or re.search(r"▶ long[^\n]*\r?\n", out)  # ...below the status line
    assert term.left == term.cooked  # the terminal as it was


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=True).stdout


SILENT = "⚠ AUDIO SILENT (no device)"


@pytest.mark.parametrize("width", [80, 200])
def test_the_status_line_and_key_help_fit_the_terminal(tmp_path: Path, width: int) -> None:
    show = quiet_show(tmp_path)
    command = f"cd {REPO} && {sys.executable} -m showcontrol run {show} --audio-driver dummy --log {tmp_path / 'log.jsonl'} 2>/dev/null"
    socket = f"sctest-terminal-{os.getpid()}-{width}"  # its own server: one being killed, or another run's, never answers
    tmux(socket, "new-session", "-d", "-x", str(width), "-y", "24", "-s", "t", command)
    try:
        screen = lambda: tmux(socket, "capture-pane", "-p", "-J", "-t", "t")  # noqa: E731  -J: a wrapped line comes back whole
        wait_until(lambda: "down: " in screen(), timeout=20)
        tmux(socket, "send-keys", "-t", "t", " ")
        wait_until(lambda: f"{SILENT} | ▶" in screen())
        time.sleep(1)
        tmux(socket, "send-keys", "-t", "t", "q")
        wait_until(lambda: "press again to quit (3 s)" in screen())
        asking = screen()
        time.sleep(3.5)
        later = screen()
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            tmux(socket, "kill-server")
    assert all(len(line) < width for line in asking.splitlines()), asking  # nothing wrapped
    help_lines = [line for line in asking.splitlines() if "go/stop" in line or "tap tempo" in line]
    assert len(help_lines) == (2 if width == 80 else 1), asking
    question = [line for line in asking.splitlines() if "press again" in line][-1]
    assert question.startswith("press again to quit (3 s) | ⚠ AUDIO SILENT") and "| ▶" in question and "⚠ down: " in question, asking
    status = [line for line in later.splitlines() if line.startswith(f"{SILENT} | ▶")][-1]
    fields = status.split(" | ")[1:]  # the dummy driver is heard by nobody, and the line leads with it
    assert (
        fields[0] in ("▶ long", "▶") and re.fullmatch(r"\d+\.\d", fields[1]) and re.fullmatch(r"⚠ down: (lights )?monitors", fields[2])
    ), status
    complete = r"slow-burn-intro|-?\d+:\d\d\.\d{3}|next keys pad in \d+ in \d+\.\ds|outputs ok \(\d\)"
    assert all(re.fullmatch(complete, field) for field in fields[3:]), status  # whole fields, none cut
    if width == 200:
        assert len(fields) == 6, status  # room for everything
    assert "press again" not in later  # the question went after 3 s


def test_headless_with_a_loop_plays_it_until_a_signal(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text("version: 1\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 240}]\n")  # 2 s
    help_text = subprocess.run([sys.executable, "-m", "showcontrol", "run", "--help"], capture_output=True, text=True, cwd=REPO).stdout
    assert "with --loop: loop until SIGINT or SIGTERM" in " ".join(help_text.split())
    command = [sys.executable, "-m", "showcontrol", "run", str(tmp_path / "show.yaml"), "--headless", "--loop", "1-1"]
    process = subprocess.Popen(
        [*command, "--audio-driver", "dummy", "--log", str(tmp_path / "log.jsonl")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        time.sleep(6)  # three times the song's length
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130 and "s: fired" in out, err
