"""Per-performer earpiece feeds, rendered through the CLI: each feed's channel holds exactly its own hits
(accents, subdivisions, count-in, level) plus its spoken guide calls, each starting on its frame."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import showcontrol

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.audio.click import ClickSounds, render_click
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.offline import click_sounds
from showcontrol.timeline.events import ClickHit, Kind

SHOW = Path(__file__).parent / "golden" / "click-feeds" / "show.yaml"
CHANNELS = {"click": 1, "click:ava": 2, "click:ben": 3}
LEVELS_DB = {"click": -6, "click:ava": -6, "click:ben": -12}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): guide calls are silent without it")
    folder = tmp_path_factory.mktemp("feeds")
    result = showcontrol("render", str(SHOW), "-o", str(folder / "out.wav"), "--trace", str(folder / "trace.jsonl"), "--subtype", "FLOAT")
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(folder / "out.wav"), dtype="float32")
    trace = [json.loads(line) for line in (folder / "trace.jsonl").read_text().splitlines()]
    return audio, rate, trace


def hits_only(feed: str, length: int) -> np.ndarray:
    """The feed's clicks and counts without its calls, rendered here from the compiled timeline."""
    loaded = load_show(SHOW)
    timeline = loaded.timelines["feeds"]
    sounds = click_sounds(loaded.sample_rate)
    silent_calls = ClickSounds(sounds.sample_rate, sounds.hits, sounds.voice, {})
    expected = np.zeros(length, np.float32)
    events = [e for e in timeline.of_kind(Kind.CLICK) if e.output == feed]
    render_click(events, timeline.start_frame, expected, silent_calls, 10 ** (LEVELS_DB[feed] / 20))
    return expected


def runs(nonzero: np.ndarray, gap: int) -> list[int]:
    """Where each run of non-zero samples starts, runs being separated by at least `gap` silent frames."""
    return [int(f) for i, f in enumerate(nonzero) if i == 0 or f - nonzero[i - 1] > gap]


@pytest.mark.parametrize("feed", list(CHANNELS))
def test_each_feed_is_its_hits_plus_its_calls_on_their_frames(rendered, feed: str) -> None:
    audio, rate, trace = rendered
    channel = audio[:, CHANNELS[feed]]
    residual = channel - hits_only(feed, len(channel))
    calls = [e["frame"] for e in trace if e["output"] == feed and e["message"].get("call")]
    assert runs(np.flatnonzero(residual), gap=round(0.4 * rate)) == calls  # nothing else differs, and each call starts on its frame
    for frame in calls:
        spoken = np.flatnonzero(residual[frame : frame + 2 * rate])
        assert spoken[-1] > 0.4 * rate  # words, not a blip


def test_feeds_differ_as_the_show_says(rendered) -> None:
    _, _, trace = rendered
    by_feed = {feed: [e for e in trace if e["output"] == feed] for feed in CHANNELS}
    ava_bar_1 = [e["message"]["sound"] for e in by_feed["click:ava"] if e["position"].startswith("1.")]
    assert ava_bar_1 == ["accent", "sub", "beat", "sub", "accent", "sub", "beat", "sub"]  # eighths, accents on 1 and 3
    assert [e["message"].get("count") for e in by_feed["click:ava"] if e["message"]["sound"] == "count"] == [1, 2, 3, 4] * 2
    assert [e["message"]["call"] for e in by_feed["click:ben"] if "call" in e["message"]] == [
        "verse 2 in 4",
        "pre chorus in 4",
        "big chorus in 4",
    ]
    assert not any("call" in e["message"] for e in by_feed["click"])


def test_a_start_from_a_later_bar_counts_each_feed_in_its_own_way(tmp_path: Path) -> None:
    """From bar 7 Ava counts two bars aloud and the others one: the pre-roll is Ava's two bars, and the
    song's own click is silent in its first bar."""
    runner = ShowRunner(load_show(SHOW), RunOptions("feeds", start=BarBeat(7)))
    plan = runner.play()
    bar_7 = runner.timeline.tempo.frame(BarBeat(7), runner.timeline.sample_rate)
    assert plan.start_frame == bar_7 - 2 * 2 * 44100  # two 4/4 bars at 120 BPM
    assert set(plan.count_in) == set(CHANNELS)
    first_bar = slice(0, 2 * 44100)
    assert not plan.count_in["click"].data[first_bar].any() and plan.count_in["click:ava"].data[first_bar].any()
    spoken = [e.payload.count for e in plan.count_in_events if e.output == "click:ava" and isinstance(e.payload, ClickHit)]
    assert spoken == [1, 2, 3, 4, 1, 2, 3, 4]
