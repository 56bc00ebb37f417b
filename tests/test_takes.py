"""The take log: records and their folding as plain values, the file that a crash leaves, a real run's
takes (GO again, stop, song end, marks), `kill -9` mid-take, and `showcontrol takes` against golden output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import run_show_to_the_end, start_show
from peers import UdpReceiver, wait_until

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.cli import main
from showcontrol.errors import ShowControlError
from showcontrol.load.show_file import load_show
from showcontrol.takes.log import TakeLog, default_take_log, process_alive, process_started, read_lines, read_takes
from showcontrol.takes.record import (
    Status,
    Take,
    abandoned,
    aborted_end,
    chosen,
    clean_note,
    end_record,
    fold,
    last_event_after,
    last_of_show,
    mark_record,
    next_number,
    start_record,
)

GOLDEN = Path(__file__).parent / "golden" / "takes"


def a_take(song: str = "s", number: int = 1, day: str = "2026-12-01", **fields: object) -> Take:
    values: dict[str, object] = dict(
        take_id=f"{day}/{song}/{number}", song=song, number=number, day=day, from_bar=1, from_s=0.0, started_at=1000.0 + number,
        timecode_in="", tempo_percent=100.0, speed=1.0, show_log="show.jsonl", pid=10, host="here",
    )  # fmt: skip
    values.update(fields)
    return Take(**values)  # type: ignore[arg-type]


# -- pure ---------------------------------------------------------------------------------------
def test_lines_fold_into_takes_with_their_end_and_latest_marks() -> None:
    take = a_take()
    lines = [
        start_record(take),
        {"kind": "osc", "song_frame": 1},  # a show log's line: not a take's
        end_record(take.take_id, Status.COMPLETE, "song end", 16, 33.0, 1040.0, "01:00:33:00"),
        mark_record(take.take_id, good=False, note="late"),
        mark_record(take.take_id, good=True),  # a later verdict replaces the first, the note stays
        mark_record("2026-11-30/s/9", good=True),  # a take this log never started
        {**start_record(a_take("s", 2)), "take": "two"},  # a hand-edited line that cannot be read
        {**start_record(a_take("s", 3)), "tempo_percent": 0},
    ]
    [folded] = fold(lines)
    assert (folded.status, folded.to_bar, folded.timecode_out, folded.good, folded.note) == (
        Status.COMPLETE,
        16,
        "01:00:33:00",
        True,
        "late",
    )


def test_takes_are_numbered_per_song_and_per_day() -> None:
    takes = [a_take("a", 1), a_take("a", 2), a_take("b", 1), a_take("a", 7, day="2026-11-30")]
    assert next_number(takes, "a", "2026-12-01") == 3
    assert next_number(takes, "b", "2026-12-01") == 2
    assert next_number(takes, "a", "2026-12-02") == 1


def test_only_open_takes_of_dead_processes_on_this_host_were_abandoned() -> None:
    takes = [
        a_take("a", 1, pid=11),  # crashed
        a_take("a", 2, pid=12),  # still running (another run sharing the log)
        a_take("a", 3, pid=11, host="camera-cart"),  # another machine: cannot tell
        a_take("a", 4, pid=11, status=Status.COMPLETE),
        a_take("a", 5, pid=99),  # this process's pid, which has started no take yet: a restarted container's earlier run
    ]
    assert [t.number for t in abandoned(takes, "here", 99, alive=lambda pid, started: pid in (12, 99))] == [1, 5]


def test_a_pid_another_process_took_since_is_not_the_crashed_runs() -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        started = process_started(sleeper.pid)
        assert started.isdigit() and process_alive(sleeper.pid, started) and process_alive(sleeper.pid)
        assert not process_alive(sleeper.pid, str(int(started) - 1))  # the crashed run had it earlier: gone
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not process_alive(sleeper.pid, started) and process_started(sleeper.pid) == ""


def test_the_last_take_of_a_show_is_its_own_and_never_another_runs_open_one() -> None:
    takes = [
        a_take("a", 1, show="/mine.yaml", status=Status.COMPLETE),
        a_take("a", 2, show="/mine.yaml", pid=10),  # this run's own, still playing
        a_take("b", 1, show="/mine.yaml", pid=12),  # another run of this show, still playing
        a_take("c", 1, show="/other.yaml", status=Status.COMPLETE),  # another show sharing the log
    ]
    assert last_of_show(takes, "/mine.yaml", 10, "here") == takes[1]
    assert last_of_show(takes, "/mine.yaml", 11, "here") == takes[0]
    assert last_of_show(takes, "/none.yaml", 10, "here") is None


def test_a_crashed_take_ends_at_the_last_event_its_show_log_holds_after_its_go() -> None:
    take = a_take(started_at=1000.0)
    show_log: list[dict[str, object]] = [
        {"song": "s", "position": "30.1.000", "time": 60.0, "sent": 990.0},  # an earlier run's
        {"song": "s", "position": "3.2.000", "time": 5.25, "sent": 1005.5},
        {"song": "s", "kind": "transport", "state": "playing"},
        {"song": "s", "position": "4.1.000", "time": 6.0, "sent": 1006.25},
    ]
    end = aborted_end(take, last_event_after(show_log, "s", take.started_at))
    assert (end["status"], end["to_bar"], end["to_s"], end["ended_at"]) == ("aborted", 4, 6.0, 1006.25)
    unknown = aborted_end(take, None)
    assert (unknown["to_bar"], unknown["ended_at"]) == (None, None)


def test_the_cue_sheet_takes_the_good_takes_else_every_complete_one_never_a_no_good() -> None:
    takes = [
        a_take("a", 1, status=Status.COMPLETE),
        a_take("a", 2, status=Status.INTERRUPTED, good=True, to_s=16.0),  # the edit uses its first half
        a_take("b", 1, status=Status.COMPLETE),
        a_take("b", 2, status=Status.COMPLETE, good=False),
        a_take("b", 3, status=Status.ABORTED),
    ]
    assert [(t.song, t.number) for t in chosen(takes)] == [("a", 2), ("b", 1)]


def test_a_good_take_the_cue_sheet_cannot_time_never_hides_the_songs_complete_takes() -> None:
    takes = [
        a_take("a", 1, status=Status.COMPLETE, to_s=33.0),
        a_take("a", 2, good=True),  # still open
        a_take("a", 3, status=Status.ABORTED, good=True),  # a crash that logged no event: no end
    ]
    assert [(t.song, t.number) for t in chosen(takes)] == [("a", 1)]


def test_music_heard_leaves_out_the_count_in_and_follows_the_tempo() -> None:
    assert a_take(from_s=-3.0, to_s=33.0).music_s == 33.0
    assert a_take(from_s=0.0, to_s=33.0, tempo_percent=75.0).music_s == 44.0


def test_a_note_is_one_printable_line() -> None:
    assert clean_note("camera 2\n\x1b[31mlost focus\t ") == "camera 2 [31mlost focus"
    assert len(clean_note("x" * 500)) == 200


# -- the file ---------------------------------------------------------------------------------
def test_opening_a_take_log_closes_what_a_crash_left_open_and_only_that(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    show_log = tmp_path / "show.jsonl"
    show_log.write_text(json.dumps({"song": "s", "position": "7.3.000", "time": 12.5, "sent": 1012.0}) + "\n")
    crashed = a_take("s", 1, pid=finished.pid, host=socket.gethostname(), show_log=str(show_log))
    playing = subprocess.Popen(["sleep", "60"])  # another run, still playing its take
    running = a_take("s", 2, pid=playing.pid, host=socket.gethostname())
    path = tmp_path / "takes.jsonl"
    path.write_text("".join(json.dumps(start_record(t)) + "\n" for t in (crashed, running)) + "not json\n")
    try:
        with TakeLog(path) as take_log:
            assert [t.take_id for t in take_log.recovered] == [crashed.take_id]
        first, second = read_takes([path])
        assert (first.status, first.to_bar, first.ended_at) == (Status.ABORTED, 7, 1012.0)
        assert second.status is Status.OPEN
        with TakeLog(path) as take_log:  # opened again: nothing more to close
            assert take_log.recovered == []
            with pytest.raises(ShowControlError, match=r"take 2026-12-01/s/2 in .* is still open \(pid \d+ on .* plays it"):
                take_log.mark(good=True)  # the other run's: what it is worth is not known yet
        assert len(read_lines(path)) == 3
    finally:
        playing.kill()
        playing.wait()


def test_of_a_long_show_log_only_its_tail_is_read_and_whole_lines_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "show.jsonl"
    path.write_text("".join(json.dumps({"n": n, "pad": "x" * 90}) + "\n" for n in range(1000)))  # 112 bytes a line from n = 100 on
    lines = read_lines(path, tail_bytes=1100)
    assert [line["n"] for line in lines] == list(range(991, 1000))  # the tenth from the end is cut by the seek: left out
    assert "passed over" not in caplog.text


def test_a_take_log_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")  # where a folder should be (permissions do not stop root)
    with (
        pytest.raises(ShowControlError, match=r"cannot write the take log .* \(give another with --takes FILE\)"),
        TakeLog(tmp_path / "a-file" / "t.jsonl"),
    ):
        pass


# -- a real run ---------------------------------------------------------------------------------
def beat_show(folder: Path, osc_port: int, bars: int = 12) -> Path:
    """A click-only song at 240 bpm (a bar a second) with timecode and a cue on every beat."""
    (folder / "patch.yaml").write_text(
        "version: 1\nname: takes\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {track: [1, 2]}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}\n"
    )
    cues = "\n".join(
        f"      - {{at: {b}.{k}, osc: {{to: lights, address: /beat, args: [{(b - 1) * 4 + k}]}}}}"
        for b in range(1, bars + 1)
        for k in range(1, 5)
    )
    show = folder / "beats.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: beats\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: 240}}]\n"
        f"    click: {{enabled: false}}\n    timecode: {{rate: 25, start: '10:00:00:00'}}\n    cues:\n{cues}\n"
    )
    return show


def test_go_again_stop_and_the_song_end_each_end_a_take_and_marks_go_on_the_last(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port)
    takes_path = tmp_path / f"{tmp_path.name}-beats.takes.jsonl"  # the show's own, beside its show log
    assert default_take_log(tmp_path, show) == takes_path
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(show), options) as runner:
            runner.play()
            wait_until(lambda: len(receiver.datagrams) >= 6)  # into bar 2
            runner.play(5)  # GO again from bar 5: the first take ends where it was
            wait_until(lambda: len(receiver.datagrams) >= 14)
            runner.stop()
            runner.play(11)
            wait_until(
                lambda: sum(line.get("record") == "take-end" for line in read_lines(takes_path)) == 3
            )  # the song's end, seen by itself
            assert runner.takes.mark_last(good=True) is not None
            runner.takes.note_last("the one\x1b[2J")
    finally:
        receiver.close()
    first, second, third = read_takes([takes_path])
    assert [(t.number, t.from_bar, t.status, t.reason) for t in (first, second, third)] == [
        (1, 1, Status.INTERRUPTED, "go"),
        (2, 5, Status.INTERRUPTED, "stop"),
        (3, 11, Status.COMPLETE, "song end"),
    ]
    assert first.to_bar is not None and 2 <= first.to_bar <= 4
    assert second.to_bar is not None and 6 <= second.to_bar <= 8
    assert (third.timecode_in, third.timecode_out, third.to_bar, third.to_s) == ("10:00:10:00", "10:00:12:00", 12, 12.0)
    assert third.ended_at is not None and 1.5 < third.ended_at - third.started_at < 4
    assert (third.good, third.note) == (True, "the one [2J")
    assert third.show_log == os.path.abspath(tmp_path / "show.jsonl")


def test_a_song_that_ended_before_a_tempo_change_swapped_its_timeline_is_a_complete_take(tmp_path: Path) -> None:
    """Right after the end, before the runner's watcher has seen it, a rehearsal tempo is asked for: the
    runner swaps in that tempo's timeline (and transport) at once. The take is still complete, on its own timeline."""
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=2)
    takes_path = default_take_log(tmp_path, show)
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(show), options) as runner:
            job = runner.set_tempo(Fraction(1, 2))
            assert job is not None
            wait_until(lambda: job.version is not None)
            assert runner.apply_pending_tempo()  # as play() would: a new transport at 50 %
            asked = runner.segment.generation
            runner.play()  # 4 s
            wait_until(lambda: runner.segment.generation > asked and runner.segment.state.value == "stopped")
            assert runner.set_tempo(Fraction(1)) is None  # 100 % is in memory: swapped in now
            wait_until(lambda: "take-end" in takes_path.read_text())
    finally:
        receiver.close()
    [take] = read_takes([takes_path])
    assert (take.status, take.reason, take.tempo_percent, take.to_bar, take.to_s, take.timecode_out) == (
        Status.COMPLETE, "song end", 50.0, 2, 2.0, "10:00:02:00",
    )  # fmt: skip
    assert take.music_s == 4.0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_take_log_on_a_full_disk_costs_its_lines_never_the_show(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl", takes_path=Path("/dev/full"))
    try:
        with ShowRunner(load_show(beat_show(tmp_path, receiver.port, bars=2)), options) as runner:
            asked = runner.segment.generation
            runner.play()
            wait_until(lambda: runner.segment.generation > asked and runner.segment.state.value == "stopped")
        wait_until(lambda: len(receiver.datagrams) >= 8)  # every cue of the song
    finally:
        receiver.close()
    assert len(receiver.datagrams) == 8
    assert runner.takes.count == 1 and runner.takes.lost == 2  # its start and its end: the kernel refused both


def test_a_take_killed_mid_song_is_closed_as_aborted_by_the_next_run(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show, first_log = beat_show(tmp_path, receiver.port), tmp_path / "first.jsonl"
    takes_path = default_take_log(tmp_path, show)  # the show's own: its next run, logging to the same folder, finds it again
    process = start_show(show, log=first_log)
    try:
        wait_until(lambda: len(receiver.datagrams) >= 10 and takes_path.exists() and "take-start" in takes_path.read_text())
        process.send_signal(signal.SIGKILL)  # kill -9: no handler, no cleanup, mid-take
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        receiver.close()
    assert "take-end" not in takes_path.read_text()
    fired = [line for line in read_lines(first_log) if "position" in line]

    second = run_show_to_the_end(show, "--from", "11", log=tmp_path / "second.jsonl")
    assert second.returncode == 0, second.stderr
    assert "take 1 of beats was left open by a crash; closed as aborted" in second.stderr
    assert f"take log: {takes_path} (1 take this run)" in second.stdout
    crashed, then = read_takes([takes_path])
    assert (crashed.number, crashed.status, crashed.from_bar) == (1, Status.ABORTED, 1)
    assert crashed.to_bar == int(fired[-1]["position"].split(".")[0]) and crashed.ended_at == fired[-1]["sent"]
    assert (then.number, then.status, then.from_bar, then.timecode_in) == (2, Status.COMPLETE, 11, "10:00:10:00")


def test_two_shows_run_from_one_folder_never_see_nor_mark_each_others_takes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The new user's case: a demo plays headless while "My test show" opens, both logging to showlogs/."""
    receiver = UdpReceiver()
    (tmp_path / "demo").mkdir()
    (tmp_path / "mine").mkdir()
    demo, mine, logs = beat_show(tmp_path / "demo", receiver.port), beat_show(tmp_path / "mine", receiver.port), tmp_path / "showlogs"
    demo_takes = default_take_log(logs, demo)
    process = start_show(demo, log=logs / "demo.jsonl")
    try:
        wait_until(lambda: demo_takes.exists() and "take-start" in demo_takes.read_text())
        with ShowRunner(load_show(mine), RunOptions("beats", audio_driver="dummy", log_path=logs / "mine.jsonl")) as runner:
            assert runner.takes.path == logs / "mine-beats.takes.jsonl" != demo_takes
            assert runner.takes.last() is None and runner.takes.mark_last(good=True) is None  # the demo's take is not this show's
        shared = RunOptions("beats", audio_driver="dummy", log_path=logs / "mine2.jsonl", takes_path=demo_takes)
        with ShowRunner(load_show(mine), shared) as runner:  # even in one log (--takes): the demo's open take is left alone
            assert runner.takes.last() is None and runner.takes.mark_last(good=False) is None
        assert main(["takes", str(demo_takes), "--good"]) == 2  # from another process either: it is still playing
        assert "is still open" in capsys.readouterr().err
        assert "take-end" not in demo_takes.read_text() and "take-mark" not in demo_takes.read_text()
    finally:
        process.kill()
        process.wait(timeout=10)
        receiver.close()


# -- showcontrol takes -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_takes_lists_a_shooting_day_exactly(fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert main(["takes", str(GOLDEN / "takes.jsonl"), "--format", fmt]) == 0
    finally:
        monkeypatch.undo()
        time.tzset()
    expected = (GOLDEN / f"expected.{'txt' if fmt == 'table' else fmt}").read_text(encoding="utf-8")
    assert capsys.readouterr().out == expected


def test_takes_marks_the_last_take_or_one_by_id_from_another_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "takes.jsonl"
    log.write_bytes((GOLDEN / "takes.jsonl").read_bytes())
    before = log.read_bytes()
    assert main(["takes", str(log), "--no-good"]) == 2  # the last take is still open (on stage-pc): its end is not known
    assert "take 2026-12-01/neon-drive/2 in" in capsys.readouterr().err and log.read_bytes() == before
    assert main(["takes", str(log), "--no-good", "--note", "boom shadow in shot", "--take", "2026-12-01/slow-burn/2"]) == 0
    assert main(["takes", str(log), "--good", "--take", "2026-12-01/slow-burn/3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "NG" in out[1] and "boom shadow in shot" in out[1] and "GOOD" in out[3]
    takes = {t.take_id: t for t in read_takes([log])}
    assert takes["2026-12-01/slow-burn/2"].good is False and takes["2026-12-01/slow-burn/3"].good is True
    assert takes["2026-12-01/neon-drive/2"].good is None
    assert main(["takes", str(log), "--good", "--take", "2026-12-01/nothing/1"]) == 2
    assert main(["takes", str(tmp_path / "missing.jsonl")]) == 2
