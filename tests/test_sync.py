"""Sync streams in a render: MIDI clock follows the tempo map through a ramp and a meter change, MTC
quarter frames sit on exact frames, and the LTC in the audio (decoded by libltc) tells the same time."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from typing import Any

import libltc
import numpy as np
import pytest
import soundfile
from conftest import showcontrol

from showcontrol.codec.mtc import decode_quarter_frames
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.timecode import RATES, count_to_label, label_to_count, parse_label
from showcontrol.timeline.sync import sync_point
from showcontrol.timeline.tempo import frame_at

DF = RATES["29.97df"]

PATCH = """version: 1
audio: {sample_rate: 48000, channels: 2, routes: {click: 1, ltc: 2}}
outputs:
  sync: {type: midi, port: sequencer, clock: true, mtc: true}
"""

SHOW = """version: 1
patch: patch.yaml
songs:
  - id: ramp
    end: 13.1
    tempo:
      - {bar: 1, bpm: 100, meter: 4/4}
      - {bar: 5, bpm: 140, meter: 4/4, ramp_bars: 4}
      - {bar: 11, meter: 7/8, groups: [2, 2, 3]}
    timecode: {rate: 29.97df, start: "00:00:50;00"}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("sync")
    (folder / "patch.yaml").write_text(PATCH)
    (folder / "show.yaml").write_text(SHOW)
    result = showcontrol("render", str(folder / "show.yaml"), "-o", str(folder / "out.wav"), "--trace", str(folder / "trace.jsonl"))
    assert result.returncode == 0, result.stderr
    trace = [json.loads(line) for line in (folder / "trace.jsonl").read_text().splitlines()]
    audio, rate = soundfile.read(str(folder / "out.wav"), dtype="float32")
    return load_show(folder / "show.yaml").timelines["ramp"], trace, audio, rate


def sync_of(trace: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [e for e in trace if e["kind"] == "sync" and e["message"]["stream"] == stream]


def test_24_clocks_per_quarter_through_a_ramp_and_into_7_8(rendered) -> None:
    timeline, trace, _, _ = rendered
    clocks = [e["song_frame"] for e in sync_of(trace, "clock")]
    tempo = timeline.tempo
    quarter_frames = [frame_at(tempo.seconds_at_quarters(Fraction(q)), 48000) for q in range(0, 40 + 4 * 6)]  # bars 1-10 and beyond
    for q in range(40):  # bars 1-10 are 4/4: beats are quarters, including the four ramping bars
        beat = BarBeat(1 + q // 4, 1 + q % 4)
        assert quarter_frames[q] == tempo.frame(beat, 48000)  # the clock's quarters are the score's beats
        between = [f for f in clocks if quarter_frames[q] <= f < quarter_frames[q + 1]]
        assert len(between) == 24 and between[0] == quarter_frames[q]
    eighths = [tempo.frame(BarBeat(11, beat), 48000) for beat in range(1, 8)] + [tempo.frame(BarBeat(12, 1), 48000)]
    for start, end in itertools.pairwise(eighths):  # 7/8: beats are eighths, 12 clocks each
        assert len([f for f in clocks if start <= f < end]) == 12
    ramp = np.diff([f for f in clocks if quarter_frames[16] <= f < quarter_frames[32]])
    assert ramp[0] > ramp[-1] and np.all(np.diff(ramp) <= 1)  # speeding up, monotonically (to the frame)


def test_mtc_quarter_frames_fall_on_exact_frames(rendered) -> None:
    trace = rendered[1]
    quarters = sync_of(trace, "mtc")
    fps = DF.fps
    assert [e["song_frame"] for e in quarters] == [frame_at(Fraction(j, 4) / fps, 48000) for j in range(len(quarters))]
    assert set(np.diff([e["song_frame"] for e in quarters])) == {400, 401}  # 48000 * 1001 / 120000 = 400.4
    stream = [bytes.fromhex(e["message"]["bytes"]) for e in quarters]
    labels = [label for label, code in decode_quarter_frames(stream)]
    assert all(code == 2 for _, code in decode_quarter_frames(stream))  # 29.97 drop-frame
    counts = [label_to_count(label, DF) for label in labels]
    assert counts == list(range(counts[0], counts[0] + 2 * len(counts), 2))  # every second frame, through 00:01:00;02


@pytest.mark.skipif(libltc.load() is None, reason="libltc11 not installed")
def test_ltc_and_mtc_tell_the_same_time_at_every_frame(rendered) -> None:
    timeline, trace, audio, rate = rendered
    decoded = libltc.decode(libltc.load(), audio[:, 1], rate / float(DF.fps))
    by_start = {frame.off_start - timeline.start_frame: frame.label for frame in decoded}  # song frames

    def ltc_label_at(song_frame: int) -> tuple[int, int, int, int] | None:
        for slack in range(-3, 4):  # libltc reports where it saw the sync word begin, within a few samples
            if song_frame + slack in by_start:
                return by_start[song_frame + slack]
        return None

    compared = 0
    for index, event in enumerate(sync_of(trace, "mtc")):
        if index % 4:
            continue  # the first quarter frame of each timecode frame: where that LTC frame starts
        seen = ltc_label_at(event["song_frame"])
        if seen is None:
            continue  # libltc reports a frame only once its whole word has been read; the first one may be cut
        sent = parse_label(event["message"]["detail"].partition(" piece ")[0], DF)  # the label this sequence carries
        expected = count_to_label(label_to_count(sent, DF) + (index % 8) // 4, DF)  # its second frame is one later
        assert seen == (expected.hours, expected.minutes, expected.seconds, expected.frames)
        compared += 1
    assert compared >= len(decoded) - 2


def test_a_locate_gives_song_position_and_timecode(rendered) -> None:
    timeline = rendered[0]
    bar_11 = timeline.tempo.frame(BarBeat(11), 48000)
    point = sync_point(timeline, bar_11)
    assert point.sixteenths == 40 * 4  # ten bars of 4/4
    assert point.timecode is not None and point.mtc_rate_code == 2
    frames_in = int(Fraction(bar_11, 48000) * DF.fps)  # LTC frames since song second 0
    assert label_to_count(point.timecode, DF) == label_to_count(parse_label("00:00:50;00", DF), DF) + frames_in


@pytest.mark.skipif(libltc.load() is None, reason="libltc11 not installed")
def test_timecode_can_stay_real_time_at_a_rehearsal_tempo(tmp_path) -> None:
    """At 75 % with --realtime-timecode, cameras still get 29.97 frames a second: LTC frames 1601.6 samples
    apart at 48 kHz, counting from the start label at song time zero, and MTC quarter frames on the same
    frames; while the MIDI clock follows the slowed song (24 per quarter, each a third longer)."""
    (tmp_path / "patch.yaml").write_text(PATCH)
    (tmp_path / "show.yaml").write_text(SHOW)
    result = showcontrol(
        "render", str(tmp_path / "show.yaml"), "-o", str(tmp_path / "out.wav"), "--trace", str(tmp_path / "trace.jsonl"),
        "--tempo", "75", "--realtime-timecode",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trace = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    audio, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    decoded = libltc.decode(libltc.load(), audio[:, 1], rate / float(DF.fps))
    first = trace[0]["frame"] - trace[0]["song_frame"]  # file frame of song frame 0
    for frame in decoded[1:-1]:
        count = label_to_count(parse_label("{:02}:{:02}:{:02};{:02}".format(*frame.label), DF), DF) - label_to_count(
            parse_label("00:00:50;00", DF), DF
        )
        assert abs(frame.off_start - first - count * 48000 / DF.fps) <= 3  # real-time frames, to libltc's few samples
    mtc = sync_of(trace, "mtc")
    assert all(e["song_frame"] == frame_at(Fraction(i, 4) / DF.fps, 48000) for i, e in enumerate(mtc))
    clocks = [e["song_frame"] for e in sync_of(trace, "clock")]
    quarter_at_100 = Fraction(60, 100) * 48000
    assert clocks[24] - clocks[0] == pytest.approx(quarter_at_100 / Fraction(3, 4), abs=1)  # the clock follows the song
