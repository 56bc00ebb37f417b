"""`showcontrol plot`: the chart's contents from a compiled song (pure), and the PNG drawn from the demo."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import REPO, showcontrol

from showcontrol.chart import bar_range, song_chart
from showcontrol.load.show_file import load_show

DEMO = REPO / "cues" / "demo" / "show.yaml"


@pytest.fixture(scope="module")
def demo(demo_show: Path):
    return load_show(demo_show)


def test_the_chart_holds_the_grid_sections_lyrics_and_each_outputs_cues(demo) -> None:
    timeline = demo.timelines["neon-nights"]
    chart = song_chart(timeline, "Neon Nights")
    assert [bar for _, bar in chart.bar_lines] == list(range(1, 37))
    assert chart.bar_lines[0][0] == pytest.approx(0.5)  # first_downbeat
    assert [name for *_, name, _ in chart.sections] == ["intro", "verse1", "chorus1", "bridge", "build", "chorus2"]
    assert chart.lyrics[0].label == "City lights are calling out my name"
    assert len(chart.breaths) == 6
    lanes = dict(chart.lanes)
    assert sorted(lanes) == ["keys", "lights", "monitors"]
    assert [m.label for m in lanes["lights"]][:2] == ["house out", "verse wash"]


def test_a_bar_range_shows_only_those_bars_and_what_falls_in_them(demo) -> None:
    timeline = demo.timelines["neon-nights"]
    chart = song_chart(timeline, "zoom", bar_range("9-16", timeline.last_bar))
    assert [bar for _, bar in chart.bar_lines] == list(range(9, 18))  # the bar line closing bar 16 too
    assert [name for *_, name, _ in chart.sections] == ["verse1", "chorus1"]
    assert sorted(m.label for _, marks in chart.lanes for m in marks) == ["chorus look", "chorus look", "keys pad", "pad off"]
    with pytest.raises(ValueError, match="bars 1-36"):
        bar_range("30-40", timeline.last_bar)


def test_plot_writes_a_png_of_the_demo(demo_show: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="plot needs the optional extra: pip install -e '.[plot]'")
    output = tmp_path / "song.png"
    result = showcontrol("plot", str(DEMO), "--song", "neon-drive", "--bars", "5-12", "-o", str(output))
    assert result.returncode == 0, result.stderr
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1600 and 300 < height < 900
    assert not list(tmp_path.glob(".*partial"))
    bad = showcontrol("plot", str(DEMO), "--bars", "40-50", "-o", str(output))
    assert bad.returncode == 2 and "bars 1-36" in bad.stderr
