"""The stem maker (app/stem_maker.py) when things go wrong, with real processes and real files: the maker killed
once or again and again, shared memory missing, read-only or too small, the show killed with kill -9 or stopped
by a signal while the next song is made ready; and what does not start it (check, render, a --song run)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import REPO, beat_cue_lines, start_show, write_tone
from peers import UdpReceiver, wait_until
from pythonosc.osc_message import OscMessage
from test_terminal import Tmux

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.app.stem_maker import MAKER_COMMAND, MEMORY_FOLDER_VARIABLE, PREFIX
from showcontrol.cli import main
from showcontrol.errors import ShowControlError
from showcontrol.load.show_file import load_show

RATE = 48000
SONGS = ("s1", "s2", "s3", "s4")


def set_show(folder: Path, osc_port: int, songs: tuple[str, ...] = SONGS, bars: int = 2) -> Path:
    """Songs of `bars` bars at 240 bpm (a bar a second), a click and an OSC cue (song, bar, beat) on every beat."""
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 3, buffer_frames: 256, routes: {track: [1, 2], click: 3}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}\n"
    )
    entries = []
    for song in songs:
        write_tone(folder / f"{song}.wav", bars + 0.5, rate=44100)  # resampled to the device's rate: real work to make
        cues = beat_cue_lines(song, bars)
        entries.append(
            f"  - id: {song}\n    audio: {song}.wav\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
        )
    show = folder / "show.yaml"
    show.write_text("version: 1\npatch: patch.yaml\nsongs:\n" + "".join(entries))
    return show


def every_cue(songs: tuple[str, ...] = SONGS, bars: int = 2) -> list[tuple[object, ...]]:
    return [(song, bar, beat) for song in songs for bar in range(1, bars + 1) for beat in range(1, 5)]


@pytest.fixture
def receiver():
    """The lights: a UDP receiver, closed after the test (after its cues were read)."""
    lights = UdpReceiver()
    yield lights
    lights.close()


def cues_received(receiver: UdpReceiver, expected: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """What the receiver got, once as many cues as expected came (or 30 s passed: then the comparison says what is missing)."""
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: len(receiver.datagrams) >= len(expected), timeout=30)
    return [tuple(OscMessage(datagram).params) for _, datagram in receiver.datagrams]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in listing.read_text().split()]
    return found


def makers(pid: int) -> list[int]:
    """The show's stem makers: its children running the maker's command."""
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            if MAKER_COMMAND.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def gone(pid: int) -> bool:
    """Ended (a zombie left to an init that does not reap counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def stem_files(*folders: Path) -> list[Path]:
    return [path for folder in folders if folder.is_dir() for path in folder.glob(PREFIX + "*")]


def show_env(tmp_path: Path, memory: Path) -> dict[str, str]:
    """The show's environment: its shared memory at `memory`, its disk fallback in this test's cache folder."""
    return {**os.environ, MEMORY_FOLDER_VARIABLE: str(memory), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def reaped():
    """The shows a test starts (append them), killed at its end if a failing assertion left one running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def finished(process: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = process.communicate(timeout=180)
    return out, err


# -- the maker dies ------------------------------------------------------------------------------------
def test_a_maker_killed_mid_set_is_started_again_and_every_song_plays(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    show = start_show(set_show(tmp_path, receiver.port), env=show_env(tmp_path, memory))
    reaped.append(show)
    wait_until(lambda: makers(show.pid), timeout=60)  # started for s2 as s1 opens, and asked at once
    first = makers(show.pid)[0]
    oom_score = Path(f"/proc/{first}/oom_score_adj")
    wait_until(lambda: oom_score.read_text().strip() == "1000", timeout=60)  # serving: the kernel's first pick when short of memory
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: [pid for pid in makers(show.pid) if pid != first], timeout=60)  # another, asked for s2 again
    second = next(pid for pid in makers(show.pid) if pid != first)
    out, err = finished(show)
    assert show.returncode == 0, err
    assert cues_received(receiver, every_cue()) == every_cue()
    assert "ended (killed by SIGKILL): starting another" in err
    assert "preparing: stem maker ended and was started again (1x)" in out
    assert "made in the show's process" not in out  # the second maker made the rest
    assert gone(first) and gone(second)
    assert stem_files(memory) == []


def test_a_maker_that_keeps_dying_leaves_the_songs_to_the_show_s_own_process(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    killed: set[int] = set()
    done = threading.Event()

    def kill_every_maker(pid: int) -> None:
        while not done.wait(0.005):
            for maker in makers(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(maker, signal.SIGKILL)
                    killed.add(maker)

    try:
        show = start_show(set_show(tmp_path, receiver.port), env=show_env(tmp_path, memory))
        reaped.append(show)
        killer = threading.Thread(target=kill_every_maker, args=(show.pid,), daemon=True)
        killer.start()
        out, err = finished(show)
    finally:
        done.set()
    assert show.returncode == 0, err
    assert cues_received(receiver, every_cue()) == every_cue()
    assert len(killed) == 3 and all(gone(pid) for pid in killed)
    gave_up = "songs made in the show's process: the stem maker ended 3 times (last: killed by SIGKILL)"
    assert err.count(gave_up) == 1  # said once
    assert f"preparing: {gave_up}" in out  # and in the report, with how many songs it took
    assert stem_files(memory) == []


# -- no room in shared memory --------------------------------------------------------------------------
def mounted(options: str, folder: Path, command: list[str]) -> list[str]:
    """`command` in a mount namespace of its own where `folder` is a fresh tmpfs mounted with `options`."""
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        f'mount -t tmpfs -o {options} showcontrol-test "{folder}" && exec "$0" "$@"',
        *command,
    ]


def can_mount_a_tmpfs(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    return subprocess.run(mounted("size=64k", probe, ["true"]), capture_output=True, timeout=30).returncode == 0


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("absent", "No such file or directory"),
        ("read-only", "Read-only file system"),
        ("too small", "No space left on device"),
    ],
)
def test_without_room_in_shared_memory_the_stems_go_to_a_file_on_disk(receiver: UdpReceiver, tmp_path: Path, case: str, said: str) -> None:
    """Docker's 64 MB /dev/shm, a read-only or missing one: said once, every song made ready, nothing left behind.
    The small and read-only ones are real tmpfs mounts (in a user and mount namespace of the test's own)."""
    memory = tmp_path / "shm"
    disk = tmp_path / "cache" / "showcontrol" / "stems"
    show = set_show(tmp_path, receiver.port)
    log = tmp_path / "show.jsonl"
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "dummy", "--log", str(log)]
    if case != "absent":
        memory.mkdir()
        if not can_mount_a_tmpfs(tmp_path):
            pytest.skip("no unprivileged mount namespace here (unshare --user --mount) to mount a small or read-only tmpfs")
        command = mounted("ro" if case == "read-only" else "size=256k", memory, command)  # a 2-s song's track is 768 KB
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=show_env(tmp_path, memory), timeout=180)
    assert result.returncode == 0, result.stderr
    assert cues_received(receiver, every_cue()) == every_cue()
    note = f"stems on disk in {disk}, not in shared memory ({memory}: {said})"
    assert result.stderr.count(note) == 1, result.stderr
    assert f"preparing: {note} (3x)" in result.stdout  # s2, s3, s4 (s1 is made as the run opens, before anything plays)
    assert "Traceback" not in result.stderr
    assert stem_files(memory, disk) == []


def test_with_no_room_anywhere_the_songs_are_made_in_the_show_s_process(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be\n")  # the disk folder cannot be made either
    show = start_show(set_show(tmp_path, receiver.port), env=show_env(tmp_path, tmp_path / "none"))
    reaped.append(show)
    out, err = finished(show)
    assert show.returncode == 0, err
    assert cues_received(receiver, every_cue()) == every_cue()
    assert err.count("songs made in the show's process: no room for their stems") == 1, err
    assert "preparing: songs made in the show's process: no room for their stems" in out and "(3x)" in out


# -- the show ends: killed, or by a signal while the next song is made ready ----------------------------
def test_a_show_killed_leaves_no_maker_and_the_next_run_removes_its_files(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    mine = memory / f"{PREFIX}{os.getpid()}-kept"  # a live show's file: never another run's to remove
    mine.write_bytes(b"\0" * 4096)
    show_file = set_show(tmp_path, receiver.port, bars=6)
    env = show_env(tmp_path, memory)
    show = start_show(show_file, env=env)
    reaped.append(show)
    wait_until(lambda: any(path.name.startswith(f"{PREFIX}{show.pid}-") for path in stem_files(memory)), timeout=60)
    wait_until(lambda: makers(show.pid), timeout=60)
    left = children(show.pid)
    show.kill()
    show.communicate(timeout=60)
    wait_until(lambda: all(gone(pid) for pid in left), timeout=60)
    assert any(path.name.startswith(f"{PREFIX}{show.pid}-") for path in stem_files(memory))  # what the next run removes
    again = start_show(show_file, "--song", "s1", env=env)
    reaped.append(again)
    _, err = finished(again)
    assert again.returncode == 0, err
    assert stem_files(memory) == [mine]


def signalled(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path, signal_number: signal.Signals, to_the_group: bool
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    show = set_show(tmp_path, receiver.port, bars=6)
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "dummy"]
    command += ["--log", str(tmp_path / "show.jsonl")]
    env = show_env(tmp_path, memory)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env, start_new_session=True
    )
    reaped.append(process)
    wait_until(lambda: makers(process.pid), timeout=60)  # s2 being made ready
    started = children(process.pid)
    if to_the_group:
        os.killpg(process.pid, signal_number)  # what Ctrl-C at a terminal does: every process of the group
    else:
        process.send_signal(signal_number)
    _, err = finished(process)
    assert process.returncode == 128 + signal_number, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert f"stopped by {signal_number.name}" in err
    wait_until(lambda: all(gone(pid) for pid in started), timeout=60)
    assert stem_files(memory) == []


def test_ctrl_c_while_the_next_song_is_made_ready_ends_the_show_cleanly(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    signalled(receiver, reaped, tmp_path, signal.SIGINT, to_the_group=True)


def test_sigterm_while_the_next_song_is_made_ready_ends_the_show_cleanly(
    receiver: UdpReceiver, reaped: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    signalled(receiver, reaped, tmp_path, signal.SIGTERM, to_the_group=False)


@pytest.mark.peers  # a show in a process of its own, at a tmux terminal
def test_q_at_the_terminal_while_the_next_song_is_made_ready_quits_cleanly(receiver: UdpReceiver, tmp_path: Path) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    show = set_show(tmp_path, receiver.port, bars=6)
    err = tmp_path / "err"
    run = (
        f"{MEMORY_FOLDER_VARIABLE}={memory} XDG_CACHE_HOME={tmp_path / 'cache'} {sys.executable} -m showcontrol run {show} "
        f"--audio-driver dummy --log {tmp_path / 'show.jsonl'} 2>{err}; echo EXITED $?"
    )
    term = Tmux(100, 30, f"cd {REPO} && {run}")
    try:
        wait_until(lambda: "STANDBY 1 s1" in term.screen(), timeout=60)
        shell = int(term.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        wait_until(lambda: any(makers(pid) for pid in children(shell)), timeout=60)  # s2 being made ready
        started = [pid for show_pid in children(shell) for pid in children(show_pid)]
        term.keys("q")  # stopped: q quits at once
        wait_until(lambda: "EXITED 0" in term.screen(), timeout=60)
    finally:
        term.kill()
    assert "Traceback" not in err.read_text()
    wait_until(lambda: all(gone(pid) for pid in started), timeout=60)
    assert stem_files(memory) == []


# -- memory, and what never starts a maker ------------------------------------------------------------
def mapped_stems() -> dict[int, str]:
    """This process's mappings of stem files: start address -> file."""
    mapped = {}
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and f"{PREFIX}{os.getpid()}-" in fields[5]:
            mapped[int(fields[0].partition("-")[0], 16)] = fields[5]
    return mapped


def test_only_the_playing_and_the_standby_songs_stay_mapped_and_a_closed_run_leaves_nothing(
    receiver: UdpReceiver, tmp_path: Path, monkeypatch
) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setenv(MEMORY_FOLDER_VARIABLE, str(memory))
    songs = ("s1", "s2", "s3", "s4", "s5")
    loaded = load_show(set_show(tmp_path, receiver.port, songs))
    with ShowRunner(loaded, RunOptions(None, audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:

        def held() -> set[int]:
            """The start of every stem array the runner holds: the playing version's, and those kept."""
            with runner._lock:
                versions = [runner.player.version, *runner._versions.values()]
            return {stem.data.ctypes.data for version in versions for stem in version.stems.values() if stem.data.size}

        for number, song in enumerate(songs):
            wait_until(lambda song=song: runner.ready_to_go and runner.song.id == song, timeout=60)
            runner.play()
            wait_until(lambda song=song: runner.song.id != song or runner.set_done, timeout=60)
            if number == 1:  # s2 plays: made by the maker, mapped
                assert mapped_stems()
            if number >= 2:  # s3 on: an older song's mapping must have gone as it went
                wait_until(lambda: set(mapped_stems()) <= held(), timeout=30)
                versions = {runner.player.version.song.id, *(key[0] for key in runner._versions)}
                assert len(versions) <= 2, versions
        maker = runner._stem_maker.pid
        wait_until(lambda: runner.set_done, timeout=60)
    assert cues_received(receiver, every_cue(songs)) == every_cue(songs)
    assert maker is not None and gone(maker)
    assert stem_files(memory) == []


def test_a_song_that_cannot_be_made_ready_is_tried_again_at_go_not_at_every_look(receiver: UdpReceiver, tmp_path: Path) -> None:
    """The maker's own failure (s2's track gone) reaches the operator; the set's watcher does not start it over
    every 10 ms; a GO asks again, and once the track is back s2 plays."""
    songs = ("s1", "s2")
    loaded = load_show(set_show(tmp_path, receiver.port, songs))
    track = tmp_path / "s2.wav"
    kept = track.read_bytes()
    track.unlink()
    with ShowRunner(loaded, RunOptions(None, audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:
        wait_until(lambda: runner.standby_job is not None and runner.standby_job.error is not None, timeout=60)
        assert runner.standby_job is not None and "s2.wav" in str(runner.standby_job.error)
        runner.play()
        wait_until(lambda: runner.player.finished, timeout=60)  # s1 ended; s2 is standby and not ready
        jobs = set()
        for _ in range(50):  # 50 looks of the watcher: at most one more try (RETRY_FAILED_S)
            jobs.add(id(runner.standby_job))
            threading.Event().wait(0.01)
        assert len(jobs) <= 2
        track.write_bytes(kept)
        with pytest.raises(ShowControlError, match="s2 is being made ready"):
            runner.play()  # GO: asked again
        wait_until(lambda: runner.ready_to_go and runner.song.id == "s2", timeout=60)
        runner.play()
        wait_until(lambda: runner.set_done, timeout=60)
    assert cues_received(receiver, every_cue(songs)) == every_cue(songs)


def test_check_timeline_render_practice_and_a_song_run_never_start_a_maker(receiver: UdpReceiver, tmp_path: Path, monkeypatch) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setenv(MEMORY_FOLDER_VARIABLE, str(memory))
    show = set_show(tmp_path, receiver.port, ("s1", "s2"))
    before = makers(os.getpid())  # another test's, if any
    assert main(["check", str(show)]) == 0
    assert main(["timeline", str(show), "--song", "s2"]) == 0
    assert main(["render", str(show), "--song", "s2", "-o", str(tmp_path / "s2.wav")]) == 0
    assert main(["practice", str(show), "--song", "s1", "--tempo", "100", "-o", str(tmp_path / "practice")]) == 0
    assert makers(os.getpid()) == before
    loaded = load_show(show)
    with ShowRunner(loaded, RunOptions("s2", audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:
        runner.play()
        wait_until(lambda: runner.player.finished, timeout=60)
        assert runner._stem_maker.pid is None and makers(os.getpid()) == before
    assert cues_received(receiver, every_cue(("s2",))) == every_cue(("s2",))
    rendered, rate = soundfile.read(tmp_path / "s2.wav")
    assert rate == RATE and np.abs(rendered[:, 0]).max() > 0.1  # the track, made in this process
    assert list((tmp_path / "practice").glob("*.mp3"))
    assert stem_files(memory) == []
    assert json.loads((tmp_path / "show.jsonl").read_text().splitlines()[0])  # the run's show log, written


def test_what_the_maker_says_while_it_makes_a_song_is_in_the_show_s_log(
    receiver: UdpReceiver, tmp_path: Path, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A rehearsal tempo is stretched in the maker; its "time-stretching ..." reaches the operator as before."""
    monkeypatch.setenv(MEMORY_FOLDER_VARIABLE, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing stretched before
    loaded = load_show(set_show(tmp_path, receiver.port, ("s1",)))
    caplog.set_level(logging.INFO, logger="showcontrol")
    with ShowRunner(loaded, RunOptions("s1", audio_driver="dummy", log_path=tmp_path / "show.jsonl")) as runner:
        job = runner.set_tempo(Fraction(4, 5))
        assert job is not None
        wait_until(lambda: job.done, timeout=60)
        assert job.error is None and runner._stem_maker.pid is not None
    said = [(record.name, record.getMessage()) for record in caplog.records]
    assert ("showcontrol.offline", "time-stretching s1.wav to 80 % (pitch kept)...") in said
    assert ("showcontrol.offline", "s1.wav at 80 %: stretched and cached") in [(name, text.partition(" in ")[0]) for name, text in said]
