"""The music cue sheet: which takes it reports and for how long, the CSV against golden output, and the
PDF turned into text and PNG by poppler (pdftotext, pdftoppm) to see what it shows."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

from showcontrol.cli import main
from showcontrol.cuesheet.sheet import Header, cue_sheet, duration_text, iso_duration, timing_text
from showcontrol.load.show_file import LoadedShow, load_show
from showcontrol.takes.log import read_takes

DEMO = REPO / "cues" / "demo" / "show.yaml"
TAKES = REPO / "tests" / "golden" / "takes" / "takes.jsonl"
GOLDEN = REPO / "tests" / "golden" / "cuesheet"
EPISODE = ["--series", "Elastic Heart", "--episode", "The Audition", "--episode-number", "104", "--production", "EH-0104"]
EPISODE += ["--date", "2026-12-01", "--company", "Lantern Pictures Ltd"]


@pytest.fixture(scope="module")
def demo(demo_show: Path) -> LoadedShow:
    return load_show(demo_show)


def test_the_chosen_takes_are_reported_each_source_of_a_mashup_for_the_time_it_is_heard(demo: LoadedShow) -> None:
    sheet = cue_sheet(demo, read_takes([TAKES]), Header("Elastic Heart"))
    uses = [(u.cue, u.rights.title, u.take.rsplit("/", 1)[-1], u.timing_in, u.timing_out, duration_text(u.duration_s)) for u in sheet.uses]
    assert uses == [
        ("M01", "Neon Nights", "3", "01:00:00:00", "01:01:09:16", "01:10"),  # the good take, not the no-good 1 or the interrupted 2
        ("M02", "Slow Burn", "1", "01:00:59;00", "01:01:32;01", "00:44"),  # none marked: each complete take; at 75 % it ran 44 s
        ("M03", "Slow Burn", "3", "01:00:59;00", "01:01:32;01", "00:33"),
        ("M04", "Neon Nights", "1", "02:00:17:01", "02:00:33:15", "00:17"),  # the mashup from bar 9: Neon Nights until it leaves at 17
        ("M04", "Midnight Drive", "1", "02:00:17:01", "02:00:50:04", "00:33"),  # and Midnight Drive from 9 to the end
    ]
    assert [u.rights.usage for u in sheet.uses] == ["VV", "BV", "BV", "VV", "VV"]  # the mashup's tracks take the song's usage
    assert sheet.notes == (
        "slow-burn: 2 complete takes and none marked good, so each is listed; mark the one used (showcontrol takes LOG --good --take ID)",
    )


def test_a_song_whose_good_take_never_ended_keeps_its_complete_takes(demo: LoadedShow, tmp_path: Path) -> None:
    """An open take marked good (a log written before marking it was refused) must not hide its song."""
    log = tmp_path / "takes.jsonl"
    opened = {"record": "take-start", "take_id": "2026-12-01/slow-burn/4", "song": "slow-burn", "take": 4, "started_at": 1796117900.0}
    log.write_text(
        TAKES.read_text()
        + json.dumps(opened)
        + "\n"
        + json.dumps({"record": "take-mark", "take_id": opened["take_id"], "good": True})
        + "\n"
    )
    sheet = cue_sheet(demo, read_takes([log]), Header("Elastic Heart"))
    assert [(u.rights.title, u.take.rsplit("/", 1)[-1]) for u in sheet.uses][1:3] == [("Slow Burn", "1"), ("Slow Burn", "3")]
    assert "take 2026-12-01/slow-burn/4 is marked good but open, where it ended is not known: not used" in sheet.notes


def test_without_takes_the_whole_show_is_reported(demo: LoadedShow) -> None:
    sheet = cue_sheet(demo, None, Header("demo"))
    assert [(u.cue, u.rights.title) for u in sheet.uses] == [
        ("M01", "Neon Nights"), ("M02", "Slow Burn"), ("M03", "Neon Nights"), ("M03", "Midnight Drive"),
    ]  # fmt: skip
    assert sheet.uses[0].start_s == 0 and sheet.uses[0].end_s == pytest.approx(69.6645, abs=1e-3)


def test_times_are_written_as_cue_sheets_and_ddex_write_them(demo: LoadedShow) -> None:
    assert timing_text(61.0, demo.timelines["slow-burn"]) == "01:02:00;02"  # drop-frame past the minute
    assert (duration_text(44.4), duration_text(3725), iso_duration(64.5), iso_duration(33.0)) == ("00:44", "1:02:05", "PT1M4.5S", "PT33S")


def test_the_csv_is_exactly_the_golden_one(demo: LoadedShow, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cuesheet.csv"
    assert main(["cuesheet", str(DEMO), "--takes", str(TAKES), *EPISODE, "-o", str(out)]) == 0
    assert out.read_bytes() == (GOLDEN / "expected.csv").read_bytes()
    assert capsys.readouterr().out.strip() == f"wrote {out}: 5 use(s), 03:16 of music"
    assert not list(tmp_path.glob(".*partial"))


def test_a_wrong_output_or_a_missing_take_log_is_a_clear_error(
    demo: LoadedShow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cuesheet", str(DEMO), "-o", str(tmp_path / "sheet.txt")]) == 2
    assert main(["cuesheet", str(DEMO), "--takes", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "sheet.csv")]) == 2
    err = capsys.readouterr().err
    assert "write a .csv" in err and "no take log at" in err
    assert not (tmp_path / "sheet.csv").exists()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm, pdftotext) is not installed")
def test_the_pdf_reads_as_a_cue_sheet_and_breaks_across_pages(demo: LoadedShow, tmp_path: Path) -> None:
    out = tmp_path / "cuesheet.pdf"
    assert main(["cuesheet", str(DEMO), "--takes", str(TAKES), *EPISODE, "-o", str(out)]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for seen in ("MUSIC CUE SHEET", "Elastic Heart", "The Audition", "EH-0104", "Lantern Pictures Ltd", "03:16", "Mara Ellison (CA)",
                 "Northbound Tunes (E)", "Quintessence", "ZZ-DEM-26-00003", "T-900.000.001-1", "02:00:50:04", "Page 1 of 1", "BV background vocal"):  # fmt: skip
        assert seen in text, seen
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    many = tmp_path / "many.jsonl"  # a long shooting day: 40 takes marked good
    lines = [json.loads(line) for line in TAKES.read_text().splitlines()]
    starts = [line for line in lines if line["record"] == "take-start" and line["song"] == "slow-burn"][:1]
    end = next(line for line in lines if line["record"] == "take-end" and line["take_id"] == starts[0]["take_id"])
    with many.open("w") as file:
        for n in range(1, 41):
            take_id = f"2026-12-01/slow-burn/{n}"
            for record in (
                {**starts[0], "take_id": take_id, "take": n, "started_at": starts[0]["started_at"] + n},
                {**end, "take_id": take_id},
            ):
                file.write(json.dumps(record) + "\n")
            file.write(json.dumps({"record": "take-mark", "take_id": take_id, "good": True}) + "\n")
    assert main(["cuesheet", str(DEMO), "--takes", str(many), "--paper", "a4", "-o", str(out)]) == 0
    pages = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    pages = [page for page in pages if page.strip()]
    assert len(pages) >= 2 and f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert all("Timing in" in page for page in pages)  # the table's heading on every page


def test_a_song_without_rights_or_timecode_keeps_its_line_and_a_note_says_so(
    show_dir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    show = show_dir("show.yaml", "version: 1\nsongs:\n  - {id: warm-up, title: Warm-up, end: 9.1, tempo: [{bar: 1, bpm: 120}]}\n")
    out = tmp_path / "sheet.csv"
    assert main(["cuesheet", str(show), "--date", "2026-12-01", "-o", str(out)]) == 0
    header, row = out.read_text(encoding="utf-8-sig").splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["Cue Title"], cells["Timing In"], cells["Timing Out"], cells["Duration"], cells["Party Name"]) == (
        "Warm-up", "00:00:00.000", "00:00:16.000", "00:16", "",
    )  # fmt: skip
    assert "note: warm-up: no rights in the show file; its line is left blank" in capsys.readouterr().err
