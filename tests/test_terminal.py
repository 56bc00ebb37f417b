"""`run` at a real terminal: stray input (arrows, function keys, Alt+key, a paste) never moves the show, Ctrl-C
asks as `q` does and always leaves the terminal as it was, and the full screen fits 80×24 and uses 200×50 with
what is not ok in view, messages gone when no longer true, and the take keys. A pty or tmux drives a real
`showcontrol run` on the dummy audio driver."""

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
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO
from peers import free_port, wait_until

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.control.commands import Command, Reply
from showcontrol.load.show_file import load_show
from showcontrol.remote.controller import Controller
from showcontrol.status import QUIT_AGAIN
from showcontrol.ui.console import run_terminal
from showcontrol.ui.keys import Parsed, parse_keys

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


def frames(drawn: str) -> list[str]:
    """The whole screens drawn in `drawn`: rich draws each from the cursor's home, down to the bottom
    border (a screen still being written is left out)."""
    return [frame for frame in drawn.split("\x1b[H")[1:] if "╯" in frame]


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
            command,
            stdin=self.terminal,
            stdout=self.terminal,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        self.screen = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        wait_until(lambda: b"GO from 1.1" in self.screen and not termios.tcgetattr(self.terminal)[3] & termios.ICANON)

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
        wait_until(lambda: "▶ PLAYING" in term.since(0))
        mark = len(term.screen)
        term.type(DOWN + F5 + ALT_P + F1_SS3)
        term.type(PASTE)
        time.sleep(1.5)  # time for a key taken wrongly to show
        wait_until(lambda: any("PLAYING" in frame for frame in frames(term.since(mark))))
        seen = term.since(mark)
        assert "PAUSED" not in seen and "tap 1" not in seen and "is not in" not in seen and "PLAYING" in seen  # no pause, tap, locate
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
        if playing:
            term.type(b" ")
            wait_until(lambda: "▶ PLAYING" in term.since(0))
            asked = len(term.screen)
            term.type(b"\x03")
            wait_until(lambda: QUIT_AGAIN in term.since(asked))
            # One Ctrl-C did not end the show, and the question goes by itself (after its 3 s: the screen's clock, not this test's)
            wait_until(lambda: any("PLAYING" in frame and QUIT_AGAIN not in frame for frame in frames(term.since(asked))))
            assert term.process.poll() is None
            mark = len(term.screen)
            term.type(b"\x03")
            wait_until(lambda: QUIT_AGAIN in term.since(mark))
        term.type(b"\x03")
        term.process.wait(30)
        wait_until(lambda: "show log:" in term.since(0))  # the report, read off the pty by its reader
    finally:
        err = term.close()
    assert term.process.returncode == 130, err  # as a SIGINT ends a headless run
    out = term.since(0)
    assert "long: fired" in out and "show log:" in out  # the whole report...
    assert out.index(ALT_SCREEN_ON) < out.rindex(ALT_SCREEN_OFF) < out.index("long: fired")  # ...after the screen closed
    assert out.rindex(SHOW_CURSOR) > out.rindex(HIDE_CURSOR)
    assert term.left == term.cooked  # the terminal as it was


ALT_SCREEN_ON, ALT_SCREEN_OFF, HIDE_CURSOR, SHOW_CURSOR = "\x1b[?1049h", "\x1b[?1049l", "\x1b[?25l", "\x1b[?25h"


class Tmux:
    """A tmux server of this test's own (a socket nobody else uses: a server killed by one test is never the next one's)."""

    def __init__(self, width: int, height: int, command: str) -> None:
        self.socket = f"sctest-{uuid.uuid4().hex[:12]}"
        self.run(
            "new-session",
            "-d",
            "-x",
            str(width),
            "-y",
            str(height),
            "-s",
            "t",
            command,
            ";",
            "set-option",
            "-t",
            "t",
            "remain-on-exit",
            "on",
        )

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=True).stdout

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else []))

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def kill(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("kill-server")


SILENT = "⚠ AUDIO SILENT (no device)"


def screen_when(term: Tmux, condition: Callable[[str], object], timeout: float = 30) -> str:
    """The first screen captured that meets `condition` (a capture taken again could be one being redrawn)."""
    deadline = time.monotonic() + timeout
    while not condition(screen := term.screen()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never on the screen:\n{screen}")
        time.sleep(0.05)
    return screen


def redrawn_at(screen: str, width: int, height: int) -> bool:
    """Whether the screen was drawn for this size (tmux crops what was drawn wider; it never ends in a corner)."""
    lines = screen.rstrip("\n").splitlines()
    return len(lines) == height and lines[0].startswith("┏") and lines[-1].endswith("╯") and len(lines[-1]) == width


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_the_screen_fits_the_terminal_and_says_what_is_true(tmp_path: Path, size: tuple[int, int]) -> None:
    width, height = size
    show = quiet_show(tmp_path)
    run = f"{sys.executable} -m showcontrol run {show} --audio-driver dummy --log {tmp_path / 'log.jsonl'}"  # stderr: the terminal
    command = f"cd {REPO} && stty -g >{tmp_path / 'before'} && {run}; echo $? >{tmp_path / 'rc'}; stty -g >{tmp_path / 'after'}"
    term = Tmux(width, height, command)
    try:
        stopped = screen_when(
            term,
            lambda screen: (
                "GO from 1.1" in screen and re.search(r"down: (lights )?monitors", screen) and "q quit" in screen
            ),  # drawn to its last line: a capture can catch the screen half redrawn
        )
        term.keys("Space")
        playing = screen_when(
            term, lambda screen: "▶ PLAYING" in screen and "2." in screen.split("PLAYING")[1][:12] and "q quit (twice)" in screen
        )  # and its keys, the last panel: drawn to the end
        (tmp_path / "playing.ansi").write_text(term.screen(escapes=True))  # for the docs' screenshots
        # lights goes down at its second send (the first one's refusal comes back by ICMP), ~4 s after GO
        down = screen_when(term, lambda screen: "output lights is down" in screen)
        term.keys("q")
        asking = screen_when(term, lambda screen: QUIT_AGAIN in screen and "q again: quit" in screen)  # its keys too, as above
        later = screen_when(term, lambda screen: QUIT_AGAIN not in screen and "q quit (twice)" in screen)  # gone by itself
        term.keys("g")
        wait_until(lambda: "marked GOOD" in term.screen())
        term.keys("n")
        term.keys("-l", "cam 2 late")  # typed as it is, letters that are keys included
        term.keys("Enter")
        noted = screen_when(term, lambda screen: "“cam 2 late”" in screen)
        term.run("resize-window", "-t", "t", "-x", "60", "-y", "20")  # a window made smaller mid-song: drawn again to fit
        resized = screen_when(term, lambda screen: redrawn_at(screen, 60, 20))
        term.keys("q", "q")
        wait_until(lambda: (tmp_path / "after").exists())
        after = term.run("capture-pane", "-p", "-S", "-", "-t", "t")  # with the lines scrolled off
    finally:
        term.kill()
    for screen in (stopped, playing, down, asking, later, noted):
        lines = screen.splitlines()
        assert len(lines) <= height and all(len(line) <= width for line in lines), screen  # the screen, nothing wrapped
        assert SILENT in lines[0] and re.search(r"⚠ down: (lights )?monitors", lines[0]), screen  # not ok: in the top line
        assert re.search(r"audio\s+SILENT \(no device\)", screen) and re.search(r"monitors\s+down", screen), screen
    assert "■ STOPPED" in stopped and "STANDBY 1 long" in stopped and "space go" in stopped and "q quit" in stopped
    assert re.search(r"▶ PLAYING\s+\d+\.\d\s+slow-burn-intro\s+\d:\d\d\.\d / \d:\d\d\.\d left", playing), playing
    assert re.search(r"\d+\.\d s\s+\d+\.1\s+keys pad in \d+", playing), playing  # the next cue's countdown
    assert "space stop" in playing and "p pause" in playing
    assert re.search(r"take 1 of long open · bar 1 · GOOD · “cam 2 late”", noted), noted
    cues = len(re.findall(r"\d+\.\d s\s+\d+\.1\s+keys pad in \d+", playing))  # rows of the next cues
    assert cues >= (4 if width == 80 else 10), playing  # more room, more cues
    if width == 200:
        assert "→ lights" in playing and "Set list" in playing
    assert "▶ PLAYING" in resized and re.search(r"⚠ down: (lights )?monitors", resized.splitlines()[0]), resized
    assert "Next cues" not in after and "long: fired" in after  # the screen is gone; the report is in the scrollback
    assert (tmp_path / "rc").read_text().strip() == "0", after
    assert not any(re.search(r"^(INFO|WARNING|ERROR) ", s, re.M) for s in (stopped, playing, down, asking, later, noted))  # no log over it
    assert re.search(r"WARNING showcontrol\.io\.\w+: output lights is down.*long: fired", after, re.S)  # then in the scrollback
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()  # the terminal as it was


class Broken(Controller):
    """A controller that fails on the first command: a bug under the screen, as a crash would be."""

    def handle(self, command: Command | Reply, source: str) -> Reply:
        raise RuntimeError("a bug under the screen")


def test_a_crash_under_the_screen_leaves_the_terminal_as_it_was(tmp_path: Path) -> None:
    options = RunOptions("long", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    controller, terminal = pty.openpty()
    cooked = termios.tcgetattr(terminal)
    drawn = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 65536):
                drawn.extend(chunk)

    threading.Thread(target=read, daemon=True).start()
    with ShowRunner(load_show(quiet_show(tmp_path)), options) as runner:
        keys, screen = open(terminal, closefd=False), open(terminal, "w", closefd=False)  # noqa: SIM115
        failed: list[BaseException] = []

        def console() -> None:
            try:
                run_terminal(runner, keys, screen, controller=Broken(runner))
            except RuntimeError as error:
                failed.append(error)

        thread = threading.Thread(target=console, daemon=True)
        thread.start()
        wait_until(lambda: b"GO from 1.1" in drawn and not termios.tcgetattr(terminal)[3] & termios.ICANON, timeout=20)
        os.write(controller, b" ")  # the first command: the controller raises
        thread.join(10)
        left = termios.tcgetattr(terminal)
    assert [str(error) for error in failed] == ["a bug under the screen"]
    wait_until(lambda: drawn.rfind(ALT_SCREEN_OFF.encode()) > drawn.rfind(b"GO from 1.1"))  # read off the pty by its reader
    os.close(terminal)
    os.close(controller)
    out = drawn.decode(errors="replace")
    assert "GO from 1.1" in out  # the screen was drawn...
    assert out.rindex(ALT_SCREEN_OFF) > out.rindex("GO from 1.1") and out.rindex(SHOW_CURSOR) > out.rindex(HIDE_CURSOR)  # ...and closed
    assert left == cooked


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
