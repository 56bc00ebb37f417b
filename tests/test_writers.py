"""Every writer writes a regular file, atomically, only where the user said: a device, a FIFO or a folder named as
the output is an error (exit 2) and stays what it was; a symlink's target is replaced and the link kept; no message
names the temporary file. Device nodes are made here with mknod, never the machine's own /dev/full or /dev/null."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from showcontrol.atomic_write import write_bytes
from showcontrol.cli import main
from showcontrol.errors import BadInputError
from showcontrol.load.marks_file import write_marks

SHOW = "version: 1\nsongs:\n  - id: s\n    end: 4.1\n    tempo: [{bar: 1, bpm: 120}]\n    sections: {intro: 1}\n"


@pytest.fixture
def show(tmp_path: Path) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    return path


def device(folder: Path, name: str) -> Path:
    """A character device of our own (the numbers of /dev/full), so nothing of the machine's can be replaced."""
    path = folder / name
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def folder(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    return path


def kind_of(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


def no_partial_left(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.endswith(".partial")]


COMMANDS = {
    "render -o": lambda show, out: ["render", str(show), "-o", str(out)],
    "render --trace": lambda show, out: ["render", str(show), "-o", str(out.parent / "ok.wav"), "--trace", str(out)],
    "plot -o": lambda show, out: ["plot", str(show), "-o", str(out)],
    "cuesheet -o .csv": lambda show, out: ["cuesheet", str(show), "-o", str(out)],
}
NODES = {"device": device, "fifo": fifo, "folder": folder}
SUFFIX = {"render -o": ".wav", "render --trace": ".jsonl", "plot -o": ".png", "cuesheet -o .csv": ".csv"}


@pytest.mark.parametrize("node", NODES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_node_named_as_the_output_is_refused_and_kept(
    tmp_path: Path, show: Path, command: str, node: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "plot -o":
        pytest.importorskip("matplotlib")
    target = NODES[node](tmp_path, "out" + SUFFIX[command])
    before = kind_of(target)
    assert main(COMMANDS[command](show, target)) == 2
    err = capsys.readouterr().err
    assert f"{target} is a" in err and "not a file — name a file to write" in err
    assert ".partial" not in err and "Traceback" not in err
    assert kind_of(target) == before
    assert not (tmp_path / "ok.wav").exists()  # refused before anything was written
    no_partial_left(tmp_path)


def test_a_symlinked_output_replaces_its_target_and_keeps_the_link(tmp_path: Path, show: Path) -> None:
    real = folder(tmp_path, "real") / "take.wav"
    real.write_bytes(b"old")
    link = tmp_path / "link.wav"
    link.symlink_to(real)
    assert main(["render", str(show), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes()[:4] == b"RIFF"
    no_partial_left(real.parent)
    no_partial_left(tmp_path)


def test_a_file_replaced_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text("old")
    path.chmod(0o640)
    write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_errors_name_the_users_path_and_the_reason(tmp_path: Path, show: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch = tmp_path / "patch.yaml"
    patch.write_text("version: 1\naudio: {sample_rate: 48000, channels: 3, routes: {track: [1, 2], click: 3}}\n")
    assert main(["render", str(show), "--patch", str(patch), "-o", str(tmp_path / "x.mp3")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'x.mp3'}: MP3 cannot hold 3 channels" in err and ".partial" not in err
    assert main(["render", str(show), "-o", str(tmp_path / "x.xyz")]) == 2
    assert "unknown audio format '.xyz'" in capsys.readouterr().err
    assert main(["render", str(show), "-o", str(tmp_path / "nowhere" / "x.wav")]) == 2
    assert "the folder" in capsys.readouterr().err
    no_partial_left(tmp_path)


def test_the_marks_writer_refuses_a_fifo(tmp_path: Path) -> None:
    target = fifo(tmp_path, "show.s.marks.yaml")
    with pytest.raises(BadInputError, match="is a FIFO"):
        write_marks(target, tmp_path / "show.yaml", "s", [])
    assert kind_of(target) == stat.S_IFIFO


def test_a_practice_pack_writes_into_its_folder_only(tmp_path: Path, show: Path) -> None:
    pack = tmp_path / "pack"
    assert main(["practice", str(show), "-o", str(pack)]) == 0
    assert sorted(p.suffix for p in pack.iterdir()) == [".flac", ".lrc", ".mp3"]
    assert (pack / next(p.name for p in pack.iterdir() if p.suffix == ".mp3")).read_bytes()[:3] == b"ID3"


def test_a_stretch_cache_that_cannot_be_written_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fractions import Fraction

    import numpy as np
    import soundfile

    from showcontrol.audio.stretch import _cache_path, cache_folder, stretched_track

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    track = tmp_path / "track.wav"
    soundfile.write(str(track), np.zeros((4800, 2), np.float32), 48000)
    cache_folder().mkdir(parents=True)
    cached = _cache_path(track, 48000, Fraction(3, 4))
    fifo(cached.parent, cached.name)  # where the cached file goes is a FIFO: it cannot be written
    audio, from_cache = stretched_track(track, 48000, Fraction(3, 4), 6400)
    assert len(audio) == 6400 and not from_cache
    assert kind_of(cached) == stat.S_IFIFO
