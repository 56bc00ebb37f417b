"""The set list: its values, walking it, and reading it from a show file (errors: tests/errors/2xx-setlist-*)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from showcontrol.cli import main
from showcontrol.engine.segue import SeguePlan, gap_frames, segue_plan
from showcontrol.errors import ShowFileError
from showcontrol.load.show_file import load_show
from showcontrol.model.setlist import NO_GAP, GapBars, GapSeconds, Setlist, SetlistEntry

REPO = Path(__file__).resolve().parent.parent


def test_the_default_set_list_is_every_song_once_in_file_order(show_dir) -> None:
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - {id: b, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
          - {id: a, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
        """,
    )
    setlist = load_show(show).show.setlist
    assert setlist == Setlist((SetlistEntry("b"), SetlistEntry("a")))
    assert not setlist.follows(0)


def test_a_set_list_orders_repeats_and_segues(show_dir) -> None:
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - {id: intro, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
          - {id: hit, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
        setlist:
          - hit
          - {song: intro, follow: true}
          - {song: hit, follow: true, gap: 2.5}
          - {song: intro, follow: true, gap: {bars: 2}}
          - {song: hit, follow: false, gap: 0}
        """,
    )
    loaded = load_show(show)
    assert [(e.song_id, e.follow, e.gap) for e in loaded.show.setlist] == [
        ("hit", False, NO_GAP),
        ("intro", True, NO_GAP),
        ("hit", True, GapSeconds(Fraction(5, 2))),
        ("intro", True, GapBars(2)),
        ("hit", False, NO_GAP),
    ]
    assert loaded.show.setlist[2].mark.line == 8
    assert not [w for w in loaded.warnings if "set list" in w.message]


def test_a_song_left_out_of_the_set_list_is_a_warning(show_dir) -> None:
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - {id: intro, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
          - {id: encore, end: 3.1, tempo: [{bar: 1, bpm: 120}]}
        setlist: [intro]
        """,
    )
    warnings = [str(w) for w in load_show(show).warnings if "set list" in w.message]
    assert warnings == [f"{show}:5:10: song 'encore' is not in the set list, so only `run --song encore` plays it — add it, if it belongs"]


def test_walking_a_set_list_by_index_so_a_repeat_is_its_own_place() -> None:
    setlist = Setlist((SetlistEntry("a", follow=True), SetlistEntry("b"), SetlistEntry("a")))
    assert [setlist.after(i) for i in range(-1, 4)] == [None, 1, 2, None, None]
    assert [setlist.before(i) for i in range(-1, 4)] == [None, None, 0, 1, None]
    assert [setlist.follows(i) for i in range(-1, 4)] == [False, True, False, False, False]
    assert (setlist.first_index_of("a"), setlist.first_index_of("a", 1), setlist.first_index_of("c")) == (0, 2, None)
    assert setlist.song_ids == ("a", "b") and len(setlist) == 3


def test_set_list_values_refuse_what_the_loader_reports() -> None:
    with pytest.raises(ValueError, match="cannot follow into nothing"):
        Setlist((SetlistEntry("a"), SetlistEntry("b", follow=True)))
    with pytest.raises(ValueError, match="does not follow"):
        SetlistEntry("a", gap=GapSeconds(Fraction(1)))
    assert str(GapBars(1)) == "1 bar" and str(GapBars(2)) == "2 bars" and str(GapSeconds(Fraction(5, 2))) == "2.5 s"


def test_the_demo_show_has_a_set_list_with_a_segue() -> None:
    loaded = load_show(REPO / "cues/demo/show.yaml", with_audio=False)
    assert [e.song_id for e in loaded.show.setlist] == ["neon-nights", "slow-burn", "neon-drive"]
    assert loaded.show.setlist.follows(1) and loaded.show.setlist[1].gap == GapBars(1)


SEGUE_SHOW = """
version: 1
songs:
  - {id: fast, end: 5.1, tempo: [{bar: 1, bpm: 120, meter: 4/4}], count_in: 1}
  - {id: lilt, end: 5.1, tempo: [{bar: 1, bpm: 60, beat_unit: 3/8, meter: 6/8}, {bar: 2, bpm: 200}]}
setlist:
  - {song: fast, follow: true, gap: {bars: 2}}
  - {song: lilt, follow: true, gap: 1.5}
  - {song: fast, follow: true}
  - lilt
"""


def test_a_segue_gap_in_seconds_is_wall_clock_frames(show_dir) -> None:
    loaded = load_show(show_dir("show.yaml", SEGUE_SHOW), sample_rate=48000)
    plan = segue_plan(loaded.show.setlist, 1, loaded.timelines["fast"], 48000)
    assert plan == SeguePlan(2, 72000, loaded.timelines["fast"].start_frame)
    assert plan.next_start_frame == -96000  # the count-in bar before bar 1 (2 s at 120)


def test_a_segue_gap_in_bars_is_the_next_songs_first_bar_length(show_dir) -> None:
    loaded = load_show(show_dir("show.yaml", SEGUE_SHOW), sample_rate=44100)
    plan = segue_plan(loaded.show.setlist, 0, loaded.timelines["lilt"], 44100)
    assert plan is not None and plan.next_index == 1
    assert plan.gap_frames == 2 * 2 * 44100  # a 6/8 bar at 60 dotted quarters a minute lasts 2 s (bar 2's 200 is later)


def test_a_segue_gap_in_bars_follows_a_film_speed_but_seconds_do_not(show_dir) -> None:
    path = show_dir("show.yaml", SEGUE_SHOW)
    slow = load_show(path, sample_rate=48000, speed=Fraction(1, 2))  # timelines at 96000 frames per song second
    assert segue_plan(slow.show.setlist, 0, slow.timelines["lilt"], 48000) == SeguePlan(1, 4 * 96000, 0)
    assert gap_frames(GapSeconds(Fraction(3, 2)), slow.timelines["fast"], 48000) == 72000


def test_no_segue_plan_where_the_operator_starts_the_next_song(show_dir) -> None:
    loaded = load_show(show_dir("show.yaml", SEGUE_SHOW))
    setlist, timelines = loaded.show.setlist, loaded.timelines
    assert segue_plan(setlist, 2, timelines["lilt"], 48000) == SeguePlan(3, 0, timelines["lilt"].start_frame)
    assert segue_plan(setlist, 3, timelines["fast"], 48000) is None  # the last entry
    with pytest.raises(ValueError, match="entry 1 plays lilt, not fast"):
        segue_plan(setlist, 0, timelines["fast"], 48000)


def test_check_prints_the_set_list_with_its_segues(show_dir, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(show_dir("show.yaml", SEGUE_SHOW))]) == 0
    assert "set list: fast → 2 bars → lilt → 1.5 s → fast → lilt" in capsys.readouterr().out.splitlines()


def test_a_set_list_longer_than_the_limit_is_one_problem(show_dir) -> None:
    entries = "\n".join("  - a" for _ in range(1001))
    show = show_dir("show.yaml", f"version: 1\nsongs: [{{id: a, end: 2.1, tempo: [{{bar: 1, bpm: 120}}]}}]\nsetlist:\n{entries}\n")
    with pytest.raises(ShowFileError) as raised:
        load_show(show)
    assert [str(p) for p in raised.value.problems] == [
        f"{show}:4:3: the set list has 1,001 entries; the limit is 1,000 — split the show into several shows"
    ]
