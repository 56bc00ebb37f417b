"""Where a take starts (`--from 13.3`, `chorus1:2`, `0:30.7`): resolved to a beat, the count-in ending exactly on its
frame, and a run that fires its first cue there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import as_a, run_show_to_the_end
from peers import UdpReceiver
from pythonosc.osc_message import OscMessage

from showcontrol.cli import main
from showcontrol.engine.plan import FeedCountIn, plan_start
from showcontrol.load.show_file import LoadedShow, load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.show import CountIn
from showcontrol.offline import click_sounds
from showcontrol.timeline.events import ClickHit
from showcontrol.timeline.start import TOP, resolve_start

# 120 BPM: bars 1-12 in 4/4 (2 s each), bars 13-20 in 3/4 (1.5 s each); 36 s to the end at bar 21
SHOW = """
version: 1
songs:
  - id: s
    end: {end}
    tempo: [{{bar: 1, bpm: 120, meter: 4/4}}, {{bar: 13, meter: 3/4}}]
    sections: {{verse: 1, chorus1: 9, bridge: 13}}
    count_in: 1
"""


@pytest.fixture
def loaded(show_dir) -> LoadedShow:
    return load_show(show_dir("show.yaml", SHOW.format(end="21.1")), sample_rate=48000)


def start(loaded: LoadedShow, text: str) -> BarBeat:
    return resolve_start(text, loaded.timelines["s"], loaded.show.song("s").sections)


@pytest.mark.parametrize(
    ("text", "beat"),
    [
        ("1", TOP),
        ("1.2", BarBeat(1, 2)),
        ("13", BarBeat(13)),
        ("13.3", BarBeat(13, 3)),
        ("chorus1", BarBeat(9)),
        ("chorus1:2", BarBeat(10)),
        ("chorus1:4.4", BarBeat(12, 4)),
        ("bridge:8.3", BarBeat(20, 3)),
        ("0:00", TOP),
        ("0:30", BarBeat(17)),  # 24 s of 4/4, then four 3/4 bars: exactly on bar 17's downbeat
        ("0:30.7", BarBeat(17, 2)),  # the beat at or before: beat 2 sounds at 30.5 s
        ("30.99s", BarBeat(17, 2)),
        ("0:35.999", BarBeat(20, 3)),
    ],
)
def test_each_form_resolves_to_the_beat_playback_starts_on(loaded: LoadedShow, text: str, beat: BarBeat) -> None:
    assert start(loaded, text) == beat


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13.4", "bar 13 has 3 beats (3/4)"),
        ("12.5", "bar 12 has 4 beats (4/4)"),
        ("chorus1:5", "chorus1 has 4 bars"),
        ("bridge:9", "bridge has 8 bars"),
        ("chorus2:1", "no section 'chorus2' in s; sections: verse, chorus1, bridge"),
        ("0:36", "s is 0:36 long"),
        ("9:00.5", "s is 0:36 long"),
        ("21", "s has bars 1-20"),
        ("0", "s has bars 1-20"),
        ("13.3.240", "a start is on a beat: write 13.3, without the tick"),
        ("13,3", "give a bar (13), bar.beat (13.3), a section (chorus1) or its bar (chorus1:2), or a song time (1:30, 1:30.5)"),
    ],
)
def test_a_start_that_does_not_exist_says_what_does(loaded: LoadedShow, text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        start(loaded, text)
    assert str(raised.value) == message


def test_a_song_that_ends_inside_a_bar_has_no_start_after_its_end(show_dir) -> None:
    short = load_show(show_dir("show.yaml", SHOW.format(end="20.3")), sample_rate=48000)
    assert start(short, "20.2") == BarBeat(20, 2)
    with pytest.raises(ValueError, match=r"^s ends at 20.3: start before it$"):
        start(short, "20.3")


def test_the_count_in_ends_exactly_on_a_beat_inside_the_bar(loaded: LoadedShow) -> None:
    timeline = loaded.timelines["s"]
    plan = plan_start(timeline, BarBeat(13, 3), [FeedCountIn("click", CountIn(1, True), 0.5, 1)], click_sounds(48000))
    assert plan.song_from_frame == 25 * 48000  # 24 s to bar 13, then two beats of 0.5 s
    assert plan.start_frame == 25 * 48000 - 72000  # one 3/4 bar before it
    assert [(e.at_frame, as_a(ClickHit, e.payload).count) for e in plan.count_in_events] == [(1_128_000, 1), (1_152_000, 2), (1_176_000, 3)]
    assert plan.count_in["click"].origin_frame == 1_128_000 and len(plan.count_in["click"].data) == 72000


def test_a_start_at_the_top_plays_as_rendered(loaded: LoadedShow) -> None:
    timeline = loaded.timelines["s"]
    plan = plan_start(timeline, TOP, [FeedCountIn("click", CountIn(1, True), 0.5, 1)], click_sounds(48000))
    assert (plan.start_frame, plan.song_from_frame, plan.count_in_events) == (timeline.start_frame, timeline.start_frame, ())
    assert timeline.start_frame == -96000  # the song's own count-in bar, compiled into the timeline


def test_run_from_bar_13_beat_3_fires_its_first_cue_on_that_beats_frame(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    (tmp_path / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {click: [1, 2]}}\n"
        f"outputs: {{lights: {{type: osc, host: 127.0.0.1, port: {receiver.port}}}}}\n"
    )
    cues = "\n".join(f"      - {{at: {at}, osc: {{to: lights, address: /cue, args: ['{at}']}}}}" for at in ("13.2", "13.3", "13.4", "14.1"))
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 14.2\n    count_in: 1\n"
        f"    tempo: [{{bar: 1, bpm: 240, meter: 4/4}}]\n    cues:\n{cues}\n"
    )
    log = tmp_path / "show.jsonl"
    try:
        result = run_show_to_the_end(show, "--from", "13.3", log=log)
    finally:
        receiver.close()
    assert result.returncode in (0, 3), result.stderr  # 3: played on the silent dummy driver
    assert "from bar 13 beat 3" in result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    playing = next(r for r in records if r.get("state") == "playing")
    sent = [r for r in records if r["kind"] == "osc"]
    beat_13_3 = (12 * 4 + 2) * 12000  # 12 bars of four beats and two more, a quarter note 0.25 s at 240
    assert playing["song_frame"] == beat_13_3 - 4 * 12000  # the pre-roll: one bar of count-in, ending on 13.3
    assert [(c["position"], c["song_frame"], c["result"]) for c in sent] == [
        ("13.3.0", beat_13_3, "sent"),
        ("13.4.0", beat_13_3 + 12000, "sent"),
        ("14.1.0", beat_13_3 + 24000, "sent"),
    ]
    assert [OscMessage(d).params for _, d in receiver.datagrams] == [["13.3"], ["13.4"], ["14.1"]]


def test_render_from_a_beat_is_the_take_run_would_play(show_dir, tmp_path: Path) -> None:
    show_dir("patch.yaml", "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {click: [1, 2]}}\n")
    show = show_dir(
        "show.yaml",
        """
        version: 1
        patch: patch.yaml
        songs:
          - id: s
            end: 14.2
            count_in: 1
            tempo: [{bar: 1, bpm: 240}]
        """,
    )
    out, trace = tmp_path / "take.wav", tmp_path / "take.jsonl"
    assert main(["render", str(show), "--from", "13.3", "--count-in", "2", "-o", str(out), "--trace", str(trace)]) == 0
    samples, _ = soundfile.read(str(out))
    assert len(samples) == 8 * 12000 + 3 * 12000  # two bars of count-in, then 13.3, 13.4 and 14.1 to the end at 14.2
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    clicks = [(r["frame"], r["position"]) for r in records if r["kind"] == "click"]
    assert clicks[:9] == [
        (i * 12000, p) for i, p in enumerate(["11.1.0", "11.2.0", "11.3.0", "11.4.0", "12.1.0", "12.2.0", "12.3.0", "12.4.0", "13.3.0"])
    ]
    onsets = np.flatnonzero(np.abs(samples[:, 0]) > 0.01)
    assert onsets[0] == 0 and 8 * 12000 in onsets  # the count-in's first hit opens the file; 13.3's click lands after eight
    assert main(["render", str(show), "--from", "13.5", "-o", str(out)]) == 2
