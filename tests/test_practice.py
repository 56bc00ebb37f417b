"""Practice packs: ID3 chapter bytes against the spec, the pack's chapters and LRC from the demo, and
`showcontrol practice` end to end, its MP3 read back by an independent ID3 reader (eyeD3)."""

from __future__ import annotations

import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
import soundfile
from conftest import REPO, showcontrol

from showcontrol.codec.id3 import Chapter, chapter_frames, syncsafe, tag, text_frame
from showcontrol.load.show_file import compile_at_speed, load_show
from showcontrol.practice_sheet import chapters, lrc_text

DEMO = REPO / "cues" / "demo" / "show.yaml"


def test_id3_sizes_are_syncsafe_and_frames_are_laid_out_as_the_spec_says() -> None:
    assert syncsafe(0x7F) == b"\x00\x00\x00\x7f" and syncsafe(0x80) == b"\x00\x00\x01\x00" and syncsafe(257) == b"\x00\x00\x02\x01"
    assert text_frame("TIT2", "A") == b"TIT2\x00\x00\x00\x05\x00\x00\x01\xff\xfeA\x00"
    frames = chapter_frames([Chapter("Verse", 0, 1500)])
    toc = b"CTOC\x00\x00\x00\x0a\x00\x00" + b"toc\x00\x03\x01ch0\x00"
    title = text_frame("TIT2", "Verse")
    chap_body = b"ch0\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x05\xdc" + b"\xff" * 8 + title
    assert frames == toc + b"CHAP" + len(chap_body).to_bytes(4, "big") + b"\x00\x00" + chap_body
    assert tag([frames]) == b"ID3\x03\x00\x00" + syncsafe(len(frames)) + frames


@pytest.fixture(scope="module")
def demo(demo_show: Path):
    return load_show(demo_show, None, 44100)


def test_chapters_and_lyrics_are_timed_in_the_file_at_a_rehearsal_tempo(demo) -> None:
    normal = demo.timelines["neon-drive"]
    slow = compile_at_speed(demo, "neon-drive", Fraction(3, 4))
    at_100, at_75 = chapters(normal, 44100), chapters(slow, 44100)
    assert [c.title for c in at_75] == ["neon", "blend", "drive"]
    assert at_75[0].start_ms == 0 and at_75[-1].end_ms == round((slow.end_frame - slow.start_frame) / 44100 * 1000)
    # the file's start to bar 9 (blend) is count-in and eight bars: at 75 % all of it a third longer
    assert abs(at_75[1].start_ms - at_100[1].start_ms / Fraction(3, 4)) <= 2
    text = lrc_text(slow, 44100, "Neon", "Ava", Fraction(75))
    lines = text.splitlines()
    assert lines[:3] == ["[ti:Neon]", "[ar:Ava]", "[re:showcontrol practice at 75 %]"]
    assert [line[10:] for line in lines[3:]] == [
        "(breathe)",
        "City lights are calling out my name",
        "(breathe)",
        "Neon nights, we come alive",
    ]  # Ava's lines only


def test_practice_renders_a_pack_a_phone_plays(demo_show: Path, tmp_path: Path) -> None:
    result = showcontrol("practice", str(DEMO), "--song", "neon-drive", "--performer", "ben", "--tempo", "90", "-o", str(tmp_path / "pack"))
    assert result.returncode == 0, result.stderr
    mp3, flac, lrc = (tmp_path / "pack" / f"neon-drive-ben-90pct.{suffix}" for suffix in ("mp3", "flac", "lrc"))
    assert soundfile.info(str(flac)).channels == 2 and soundfile.info(str(flac)).samplerate == 44100
    assert abs(soundfile.info(str(mp3)).duration - soundfile.info(str(flac)).duration) < 0.1
    assert "[ar:Ben]" in lrc.read_text() and "Midnight on an empty road" in lrc.read_text()
    assert not list((tmp_path / "pack").glob(".*"))
    if shutil.which("eyeD3") is None:
        pytest.skip("eyeD3 (apt-get install eyed3) reads the chapters back")
    read_back = subprocess.run(
        [
            "/usr/bin/python3",
            "-c",
            "import sys, eyed3; t = eyed3.load(sys.argv[1]).tag; "
            "print([(c.title, c.times.start) for c in t.chapters]); print(t.artist); print(t.lyrics[0].text)",
            str(mp3),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert read_back[0].startswith("[('neon', 0), ('blend', ")
    assert read_back[1] == "Ben"
    assert "Midnight on an empty road" in read_back[2]


@pytest.mark.parametrize("output", ["/dev/null", "a-file", "a-file/pack", "fifo"])
def test_practice_into_something_that_is_not_a_folder_is_a_clear_error(demo_show: Path, tmp_path: Path, output: str) -> None:
    """`-o` names the pack's folder: a device, a file, a path through a file or a FIFO is exit 2 at once with
    what it is (it was exit 1 "File exists" after loading the show), and nothing is written or replaced."""
    (tmp_path / "a-file").write_text("mine")
    os.mkfifo(tmp_path / "fifo")
    target = output if output.startswith("/") else str(tmp_path / output)
    result = showcontrol("practice", str(DEMO), "--song", "neon-drive", "--tempo", "90", "-o", target)
    kind = {"/dev/null": "a device", "fifo": "a FIFO (named pipe)"}.get(output, "a file")
    assert result.returncode == 2, result.stderr
    assert f"is {kind}, not a folder — name a folder to write into" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "a-file").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "fifo"]
