"""The show log on a real small disk (a 64 KiB tmpfs, mounted for the test) that fills mid-show and is
freed again: every line of the file is a whole JSON record or absent, never a torn one, never two glued."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import wait_until

from showcontrol.showlog import ShowLog


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def record(n: int) -> dict[str, object]:
    return {"n": n, "kind": "osc", "message": {"address": "/eos/cue/1/" + str(n) + "/fire", "args": ["x" * 300]}}


def fill(disk: Path, leave_bytes: int) -> Path:
    """A file that takes the disk's space but `leave_bytes` (rounded to pages by tmpfs)."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    filler.write_bytes(b"\0" * max(free - leave_bytes, 0))
    return filler


def whole_records(path: Path) -> list[int]:
    text = path.read_bytes().decode()
    assert text == "" or text.endswith("\n"), "the file ends in a half record"
    return [json.loads(line)["n"] for line in text.splitlines()]  # each line parses: none torn, none glued


def test_a_disk_that_fills_mid_line_and_is_freed_leaves_only_whole_lines(small_disk: Path) -> None:
    filler = fill(small_disk, 3 * 4096)  # a few pages: some records fit, then one is cut off by the full disk
    path = small_disk / "show.jsonl"
    with ShowLog(path) as showlog:
        n = 0
        while showlog.lost < 5:  # write until the disk refuses several lines
            showlog.record(record(n))
            n += 1
            wait_until(lambda: showlog.lines + showlog.lost == n, timeout=10)  # noqa: B023 - read at once
        written_while_full = showlog.lines
        assert path.stat().st_size < 3 * 4096 + 4096  # the disk really filled
        filler.unlink()  # space again: the show carries on logging
        for m in range(n, n + 20):
            showlog.record(record(m))
        wait_until(lambda: showlog.lines == written_while_full + 20, timeout=10)
    numbers = whole_records(path)
    assert numbers[:written_while_full] == list(range(written_while_full))
    assert numbers[written_while_full:] == list(range(n, n + 20))
    assert showlog.lost == 5


def test_a_disk_full_at_the_end_of_the_show_leaves_no_half_record(small_disk: Path) -> None:
    fill(small_disk, 2 * 4096)
    path = small_disk / "show.jsonl"
    with ShowLog(path) as showlog:
        for n in range(100):
            showlog.record(record(n))
    assert showlog.lost > 0 and showlog.lines > 0
    assert whole_records(path) == list(range(showlog.lines))


def test_a_log_left_torn_by_an_earlier_program_gets_our_records_on_lines_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "show.jsonl"
    path.write_text('{"n": 0}\n{"n": 1, "cut o')
    with ShowLog(path) as showlog:
        showlog.record({"n": 2})
    assert path.read_text().splitlines()[1:] == ['{"n": 1, "cut o', path.read_text().splitlines()[2]]
    assert json.loads(path.read_text().splitlines()[2])["n"] == 2
