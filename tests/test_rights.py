"""Rights data in the show file: read into frozen values, normalised, and checked where written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from showcontrol.load.show_file import load_show
from showcontrol.model.rights import Rights, isrc_text, iswc_check_digit, iswc_text, share_text

DEMO = Path(__file__).resolve().parent.parent / "cues" / "demo" / "show.yaml"


def one_song(show_dir, rights: str) -> tuple[Rights | None, list[str]]:
    show = show_dir("show.yaml", f"version: 1\nsongs:\n  - id: s\n    end: 9.1\n    tempo: [{{bar: 1, bpm: 120}}]\n    rights: {rights}\n")
    loaded = load_show(show, with_audio=False)
    return loaded.show.songs[0].rights, [w.message for w in loaded.warnings if "click" not in w.message]


def test_codes_and_numbers_are_normalised_and_written_as_people_read_them(show_dir) -> None:
    rights, warnings = one_song(
        show_dir,
        "{isrc: zz-dem-26-00001, iswc: T0345246801, usage: Visual Vocal, origin: library, writers: [{name: A, role: lyricist, society: prs}]}",
    )
    assert rights is not None and warnings == []
    assert (rights.isrc, rights.iswc, rights.usage, rights.origin) == ("ZZDEM2600001", "T0345246801", "VV", "library")
    assert (isrc_text(rights.isrc), iswc_text(rights.iswc)) == ("ZZ-DEM-26-00001", "T-034.524.680-1")
    assert [(w.role, w.share, w.society) for w in rights.writers] == [("A", 100, "PRS")]


def test_thirds_add_up_exactly_and_shares_left_out_are_split_equally_with_a_warning(show_dir) -> None:
    rights, _ = one_song(show_dir, "{writers: [{name: A, share: 33.33}, {name: B, share: 33.33}, {name: C, share: 33.34}]}")
    assert rights is not None and sum(w.share for w in rights.writers) == 100
    rights, warnings = one_song(show_dir, "{publishers: [{name: P}, {name: Q}, {name: R}]}")
    assert rights is not None and [p.share for p in rights.publishers] == [Fraction(100, 3)] * 3
    assert share_text(rights.publishers[0].share) == "33.33"
    assert warnings == ["no shares given for the publishers: split equally"]


def test_a_society_showcontrol_does_not_know_is_a_warning_not_an_error(show_dir) -> None:
    rights, warnings = one_song(show_dir, "{writers: [{name: A, society: ASKAP}]}")
    assert rights is not None and rights.writers[0].society == "ASKAP"
    assert warnings == ["society 'ASKAP' is not one showcontrol knows"]


def test_the_iswc_check_digit_follows_iso_15707() -> None:
    assert iswc_check_digit("034524680") == 1  # T-034.524.680-1, the standard's own example


def test_a_mashup_track_takes_what_it_leaves_out_from_its_song() -> None:
    song = load_show(DEMO, with_audio=False).show.song("neon-drive")
    sources = [track.rights.over(song.rights) for track in song.tracks if track.rights is not None]
    assert [(r.title, r.usage, r.label) for r in sources] == [("Neon Nights", "VV", ""), ("Midnight Drive", "VV", "Lakeside Audio")]
