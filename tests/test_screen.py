"""The operator's screen drawn from plain values, read back as text: what must be visible at 80×24 and at
200×50, what is not ok kept in view however many outputs there are, and nothing drawn past the screen."""

from __future__ import annotations

import io
import logging
import re

import pytest
from rich.console import Console

from showcontrol.status import (
    QUIT_AGAIN,
    AudioStatus,
    LastTake,
    Level,
    Message,
    NextCue,
    NowPlaying,
    OperatorInput,
    OutputHealth,
    SetListEntry,
    ShowStatus,
    TakeLogStatus,
    keys_now,
)
from showcontrol.ui.live import FullScreen, LogTap
from showcontrol.ui.screen import clock, render, set_list_line


def a_status(**changes: object) -> ShowStatus:
    values: dict[str, object] = {
        "now": 10.0,
        "playing": NowPlaying("slow-burn", "Slow Burn", "playing", "chorus", 12, 3, 23.45, 70.2, "01:00:23:11", 75.0, 1.0, (9, 16), 1),
        "next_cues": tuple(NextCue(f"keys pad in {bar}", "lights", f"{bar}.1", 1.5 * (bar - 12)) for bar in range(13, 25)),
        "set_list": tuple(SetListEntry(n, f"song{n}", f"Song {n}", n == 3, n == 4) for n in range(1, 21)),
        "outputs": (
            OutputHealth("lights", "up", "", 12, 0),
            OutputHealth("monitors", "down", "127.0.0.1:1883: Connection refused", 0, 3),
        ),
        "audio": AudioStatus("silent", "SILENT (no device)", "dummy", "Dummy"),
        "takes": TakeLogStatus("showlogs/takes.jsonl", 3, 0, LastTake("slow-burn", 3, "open", 9, None, True, "cam 2 late")),
        "messages": (Message("take 2 of slow-burn marked GOOD", until=12.0), Message(QUIT_AGAIN, Level.QUESTION, 11.0)),
        "keys": keys_now("playing", OperatorInput(quit_until=11.0), True, True, asking=True),
        "typing": "",
    }
    values.update(changes)
    return ShowStatus(**values)  # type: ignore[arg-type]


def drawn(status: ShowStatus, width: int, height: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, record=True, color_system=None)
    console.print(render(status, width, height))
    return console.export_text().splitlines()


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
def test_what_an_operator_needs_is_on_the_screen_at_both_sizes(size: tuple[int, int]) -> None:
    width, height = size
    lines = drawn(a_status(), width, height)
    assert len(lines) == height and all(len(line) <= width for line in lines)  # the screen, no more
    screen = "\n".join(lines)
    assert "▶ PLAYING" in screen and "12.3" in screen and "chorus" in screen
    assert "0:23.4 / 1:10.2 left" in screen and "TC 01:00:23:11" in screen
    assert "tempo 75 %" in screen and "loop 9–16" in screen
    assert "⚠ AUDIO SILENT (no device) · ⚠ down: monitors" in lines[0]  # what is not ok, in the top line
    assert re.search(r"monitors\s+down\s+127\.0\.0", screen) and re.search(r"audio\s+SILENT \(no device\)", screen)
    assert re.search(r"1\.5 s\s+13\.1\s+keys pad in 13", screen)  # the next cue and its countdown
    assert "STANDBY 4 Song 4" in screen and "▶ 3 Song 3" in screen
    assert "take 3 of slow-burn open · bar 9 · GOOD · “cam 2 late”" in screen
    assert QUIT_AGAIN in screen and "marked GOOD" in screen
    for key in ("space stop", "p pause", "g/x take good/no good", "n note on take", "q again: quit", "t tap tempo"):
        assert key in screen, key
    cues = len(re.findall(r"\d+\.\d s\s+\d+\.1\s+keys pad in \d+", screen))  # rows of the next cues
    assert cues == (5 if width == 80 else 12)  # more room, more cues
    if width == 200:
        assert "→ lights" in screen and "20 Song 20" in screen and "1 Song 1" in screen  # the whole set list


def test_what_is_not_ok_stays_in_view_however_many_outputs() -> None:
    many = (*(OutputHealth(f"out{n:02}", "up", "", 1, 0) for n in range(30)), OutputHealth("zz-last", "down", "gone", 0, 1))
    screen = "\n".join(drawn(a_status(outputs=many), 80, 24))
    assert re.search(r"zz-last\s+down\s+gone", screen)  # the patch's last output, listed first because it is down
    assert re.search(r"\+ \d+ more up", screen)  # the ok ones counted where they do not fit


def test_a_stopped_show_says_what_go_plays_and_what_is_typed() -> None:
    stopped = a_status(
        playing=NowPlaying("s", "s", "stopped", "-", 1, 1, 0.0, 16.0, "", 100.0, 1.0, None, 5),
        set_list=(SetListEntry(1, "s", "s", False, True),),
        audio=AudioStatus("ok", "ok", "pulseaudio", "Built-in"),
        outputs=(OutputHealth("lights", "up", "", 0, 0),),
        messages=(),
        keys=keys_now("stopped", OperatorInput(typed="12"), False, False),
        typing="bar 12_",
    )
    screen = "\n".join(drawn(stopped, 80, 24))
    assert "■ STOPPED" in screen and "GO from 5.1  stopped at 1.1" in screen and "STANDBY 1 s" in screen
    assert "⚠" not in screen and "showcontrol" in screen.splitlines()[0]  # all ok: no warning anywhere
    assert "bar 12_" in screen and "⏎ locate bar 12" in screen and "% tempo 12 %" in screen
    assert "g/x" not in screen  # no take yet to mark


def test_the_set_list_line_starts_at_the_song_playing() -> None:
    entries = tuple(SetListEntry(n, f"s{n}", f"Song {n}", n == 7, n == 8) for n in range(1, 21))
    line = set_list_line(entries, 36).plain
    assert line.startswith("▶ 7 Song 7 · STANDBY 8 Song 8")


def test_the_song_playing_chosen_again_is_marked_standby() -> None:
    entries = (SetListEntry(1, "a", "Neon Nights", True, True), SetListEntry(2, "b", "Closer", False, False))
    assert set_list_line(entries, 60).plain.startswith("▶ STANDBY 1 Neon Nights · 2 Closer")


def test_a_count_in_is_no_negative_bar_and_repeated_cue_names_say_their_output() -> None:
    counting = NowPlaying("s", "s", "playing", "-", -1, 3, -1.0, 16.0, "", 100.0, 1.0, None, 1)
    cues = (NextCue("chorus look", "lights", "1.1", 1.0), NextCue("chorus look", "video", "1.1", 1.0))
    screen = "\n".join(drawn(a_status(playing=counting, next_cues=cues), 80, 24))
    assert "count-in" in screen and "-1.3" not in screen
    assert "chorus look → lights" in screen and "chorus look → video" in screen


def test_stopped_wide_the_large_digits_show_where_go_starts() -> None:
    stopped = NowPlaying("s", "s", "stopped", "-", 12, 3, 0.0, 16.0, "", 100.0, 1.0, None, 5, 2)
    screen = "\n".join(drawn(a_status(playing=stopped), 200, 50))
    assert "GO from 5.2  stopped at 12.3" in screen
    assert "██████    ██████" in screen  # the large 5 . 2 (not 12.3): its top row reads "5", gap, "2"


def test_clock_is_to_a_tenth() -> None:
    assert [clock(s) for s in (0, 23.45, 70.21, -1.5, -0.01, 600)] == ["0:00.0", "0:23.4", "1:10.2", "-0:01.5", "0:00.0", "10:00.0"]


def test_log_records_become_messages_and_are_held_back_until_the_screen_closes() -> None:
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    root = logging.getLogger()
    root.addHandler(handler)
    tap = LogTap(hold=True, clock=lambda: 100.0)
    try:
        tap.attach()
        logging.getLogger("showcontrol.io.output").warning("output lights is down: refused")
        logging.getLogger("showcontrol.x").debug("not for the operator")
        assert written.getvalue() == ""  # nothing written over the screen...
        assert tap.messages() == [Message("output lights is down: refused", Level.WARNING, 130.0)]  # ...it is on it
        tap.detach()
        assert written.getvalue() == "output lights is down: refused\n"  # ...and written once the screen is gone
        logging.getLogger("showcontrol.x").warning("after")
        assert written.getvalue().endswith("after\n") and len(tap.messages()) == 1  # detached: as before
    finally:
        root.removeHandler(handler)


def test_a_progress_line_goes_when_its_logger_says_how_it_went() -> None:
    tap = LogTap(hold=False, clock=lambda: 100.0)
    record = logging.LogRecord("showcontrol.offline", logging.INFO, "", 0, "time-stretching a.wav to 90 % (pitch kept)...", (), None)
    tap.filter(record)
    tap.filter(logging.LogRecord("showcontrol.other", logging.INFO, "", 0, "unrelated", (), None))
    tap.filter(logging.LogRecord("showcontrol.offline", logging.INFO, "", 0, "a.wav at 90 %: from the cache in 0.0 s", (), None))
    assert [m.text for m in tap.messages()] == ["unrelated", "a.wav at 90 %: from the cache in 0.0 s"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_full_screen_lets_the_log_already_queued_out_before_it_takes_the_terminal() -> None:
    """A record still in the log's queue when the screen starts would be written over it (seen in CI: an
    INFO line across the bottom of the operator's screen): the screen waits for the log first, tapped."""
    terminal = Terminal()
    written_when_the_log_went: list[str] = []
    with FullScreen(terminal, True, lambda: written_when_the_log_went.append(terminal.getvalue())):
        logging.getLogger("showcontrol.test").warning("output lights is down")  # from here on: a message
    assert written_when_the_log_went == [""]  # nothing of the screen yet
    assert "\x1b[?1049h" in terminal.getvalue()  # then the alternate screen
