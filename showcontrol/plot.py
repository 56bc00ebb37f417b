"""Drawing a song's chart to a PNG: the only module that uses matplotlib (Agg, no screen needed).

The waveform of the tracks as laid on the song, the bar and beat grid with bar numbers, sections, lyric
lines and breath marks, and each output's cues on a lane of its own, all on one time axis, so an operator
can see at once whether bar 1 sits on the first downbeat and a cue on its hit.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from showcontrol.atomic_write import atomic_path
from showcontrol.audio.files import read_audio
from showcontrol.chart import Chart, Mark
from showcontrol.timeline.events import Timeline

Envelope = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # (seconds, peak level) of the track mix
SECTION_COLOURS = ("#dbe9f6", "#fde4cf", "#dff3e3", "#f3e0f7", "#fff3c4", "#e4e4e4")
WIDTH_INCHES, DPI = 16.0, 100
MARK_ROWS = 3  # labels on a lane cycle through this many heights so neighbours do not overprint
ENVELOPE_RATE = 4000  # the waveform's detail: plenty for a picture 1600 pixels wide
ENVELOPE_BINS = 3200


def track_envelope(timeline: Timeline, start: float, end: float) -> Envelope | None:
    """Peak level of the song's tracks as laid on its time axis (mashups: each in its own span), binned for drawing."""
    if not timeline.tracks or end <= start:
        return None
    edges = np.linspace(start, end, ENVELOPE_BINS + 1)
    level = np.zeros(ENVELOPE_BINS)
    for placement in timeline.tracks:
        mono = np.abs(read_audio(placement.track.audio, ENVELOPE_RATE)).max(axis=1) * 10 ** (placement.track.gain_db / 20)
        frames = placement.origin_frame + np.arange(len(mono)) * float(timeline.sample_rate / placement.speed) / ENVELOPE_RATE
        heard = np.ones(len(mono), bool)
        if placement.enter_frame is not None:
            heard &= frames >= placement.enter_frame
        if placement.leave_frame is not None:
            heard &= frames < placement.leave_frame
        bins = np.searchsorted(edges, frames / float(timeline.sample_rate)) - 1
        inside = heard & (bins >= 0) & (bins < ENVELOPE_BINS)
        np.maximum.at(level, bins[inside], mono[inside])
    return (edges[:-1] + edges[1:]) / 2, level


def draw_chart(chart: Chart, envelope: Envelope | None, path: Path) -> None:
    """Write the chart as a PNG (atomically: a temporary file renamed into place)."""
    lanes = len(chart.lanes)
    heights = [3.0, 0.55, 1.1] + [0.7] * lanes
    figure, axes = plt.subplots(
        len(heights),
        1,
        sharex=True,
        figsize=(WIDTH_INCHES, 0.75 + sum(heights) * 0.62),
        gridspec_kw={"height_ratios": heights, "hspace": 0.08},
    )
    wave, sections, words, *cue_axes = axes
    figure.suptitle(chart.title, x=0.01, ha="left", fontsize=13, fontweight="bold")
    _waveform(wave, chart, envelope)
    _sections(sections, chart)
    _lyrics(words, chart)
    for axis, (output, marks) in zip(cue_axes, chart.lanes, strict=True):
        _lane(axis, output, marks, chart)
    for axis in axes:
        _grid(axis, chart, labels=axis is wave)
        axis.set_xlim(chart.start, chart.end)
        axis.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    axes[-1].set_xlabel("seconds into the song")
    figure.subplots_adjust(left=0.075, right=0.99, top=1 - 0.45 / figure.get_figheight(), bottom=0.5 / figure.get_figheight())
    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=DPI, format="png")
    finally:
        plt.close(figure)


def _grid(axis: Axes, chart: Chart, labels: bool) -> None:
    for seconds in chart.beats:
        axis.axvline(seconds, color="#c8c8c8", linewidth=0.5, zorder=0)
    for seconds, _ in chart.bar_lines:
        axis.axvline(seconds, color="#555555", linewidth=0.9, zorder=0)
    if labels:
        top = axis.secondary_xaxis("top")
        step = max(1, len(chart.bar_lines) // 40)  # at most ~40 bar numbers across
        shown = [(s, b) for s, b in chart.bar_lines if b % step == 0 or b == 1]
        top.set_xticks([s for s, _ in shown], [str(b) for _, b in shown], fontsize=8)
        top.tick_params(length=0, pad=1)
        axis.text(-0.005, 1.0, "bar", transform=axis.transAxes, ha="right", va="bottom", fontsize=8)


def _waveform(axis: Axes, chart: Chart, envelope: Envelope | None) -> None:
    axis.set_yticks([])
    axis.set_ylabel("track", rotation=0, ha="right", va="center", fontsize=9)
    if envelope is None:
        axis.text(0.5, 0.5, "no audio", transform=axis.transAxes, ha="center", color="#888888")
        return
    seconds, level = envelope
    axis.fill_between(seconds, -level, level, color="#4a6fa5", linewidth=0, zorder=1)
    axis.set_ylim(-1.05 * max(float(level.max(initial=0)), 1e-3), 1.05 * max(float(level.max(initial=0)), 1e-3))


def _sections(axis: Axes, chart: Chart) -> None:
    axis.set_yticks([])
    axis.set_ylabel("sections", rotation=0, ha="right", va="center", fontsize=9)
    for start, end, name, index in chart.sections:
        axis.axvspan(start, end, color=SECTION_COLOURS[index % len(SECTION_COLOURS)], zorder=0.5)
        axis.text(start, 0.5, f" {name}", va="center", ha="left", fontsize=9, fontweight="bold", clip_on=True)
    axis.set_ylim(0, 1)


def _lyrics(axis: Axes, chart: Chart) -> None:
    axis.set_yticks([])
    axis.set_ylabel("lyrics", rotation=0, ha="right", va="center", fontsize=9)
    if chart.breaths:
        axis.text(-0.005, 0.12, "▼ breath", transform=axis.transAxes, ha="right", va="center", fontsize=7.5, color="#c0392b")
    axis.set_ylim(0, 1)
    for index, mark in enumerate(chart.lyrics):
        height = 0.74 - 0.34 * (index % 2)
        axis.plot([mark.seconds], [height], marker="|", markersize=10, color="#222222", zorder=4)
        _label(axis, chart, mark, height, 8.5)
    for mark in chart.breaths:
        axis.plot([mark.seconds], [0.12], marker="v", markersize=7, color="#c0392b", linestyle="none")


def _lane(axis: Axes, output: str, marks: tuple[Mark, ...], chart: Chart) -> None:
    axis.set_yticks([])
    axis.set_ylabel(output, rotation=0, ha="right", va="center", fontsize=9)
    axis.set_ylim(0, 1)
    for index, mark in enumerate(marks):
        height = 0.78 - 0.28 * (index % MARK_ROWS)
        axis.plot([mark.seconds], [height], marker="D", markersize=5, color="#e67e22", linestyle="none", zorder=4)
        _label(axis, chart, mark, height, 8)


def _label(axis: Axes, chart: Chart, mark: Mark, height: float, size: float) -> None:
    """A mark's text beside it, on white so grid lines do not cross it; to its left where it would run off the edge."""
    text_fraction = (len(mark.label) + 2) * size * 0.6 / 72 / (WIDTH_INCHES * 0.9)  # roughly: an average glyph is 0.6 em
    near_end = mark.seconds + text_fraction * (chart.end - chart.start) > chart.end
    axis.text(
        mark.seconds,
        height,
        f" {mark.label} " if mark.label else "",
        va="center",
        ha="right" if near_end else "left",
        fontsize=size,
        clip_on=True,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4, "alpha": 0.85},
    )
