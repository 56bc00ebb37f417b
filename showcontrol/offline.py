"""Offline rendering: the song's multichannel mix and its event trace, written atomically.

Uses the same stems and `mix_block` as live playback, so the file is what the interface would play.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from showcontrol.audio.click import ClickSounds, render_click, synthesize_hits
from showcontrol.audio.files import load_spoken_counts, read_audio, write_audio
from showcontrol.audio.ltc import render_ltc
from showcontrol.audio.mix import Block, Stem, fit_channels, mix_block
from showcontrol.describe import event_record
from showcontrol.load.show_file import LoadedShow
from showcontrol.model.show import Song
from showcontrol.timeline.events import Kind, Timeline

BLOCK_FRAMES = 1 << 16
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderResult:
    frames: int
    sample_rate: int
    channels: int
    events: int


def click_sounds(sample_rate: int) -> ClickSounds:
    return ClickSounds(sample_rate, synthesize_hits(sample_rate), load_spoken_counts(sample_rate))


def build_stems(song: Song, timeline: Timeline, routes: dict[str, tuple[int, ...]], sounds: ClickSounds) -> dict[str, Stem]:
    """Decode the track and render click and LTC for the whole song, each only if the patch routes it."""
    rate = timeline.sample_rate
    start, length = timeline.start_frame, timeline.end_frame - timeline.start_frame
    stems: dict[str, Stem] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:  # libsndfile and soxr release the GIL: decode while we synthesise
        decoding = pool.submit(read_audio, song.audio, rate) if song.audio is not None and routes.get("track") else None
        stems.update(_synthesised_stems(song, timeline, routes, sounds, start, length))
        if decoding is not None:
            track = decoding.result()[: timeline.end_frame]
            track *= np.float32(10 ** (song.gain_db / 20))
            stems["track"] = Stem(0, fit_channels(track, len(routes["track"])))
    return stems


def _synthesised_stems(
    song: Song, timeline: Timeline, routes: dict[str, tuple[int, ...]], sounds: ClickSounds, start: int, length: int
) -> dict[str, Stem]:
    stems: dict[str, Stem] = {}
    rate = timeline.sample_rate
    if routes.get("click"):
        click = np.zeros(length, np.float32)
        render_click(timeline.of_kind(Kind.CLICK), start, click, sounds, 10 ** (song.click.level_db / 20))
        stems["click"] = Stem(start, fit_channels(click[:, None], len(routes["click"])))
    if routes.get("ltc") and timeline.ltc is not None:
        ltc = render_ltc(timeline.ltc, rate, start, length)
        stems["ltc"] = Stem(start, fit_channels(ltc[:, None], len(routes["ltc"])))
    return stems


def render_song(
    loaded: LoadedShow,
    song_id: str,
    out_path: Path,
    trace_path: Path | None = None,
    progress: Progress | None = None,
    subtype: str | None = None,
) -> RenderResult:
    song = loaded.show.song(song_id)
    timeline = loaded.timelines[song_id]
    audio = loaded.show.patch.audio
    routes = dict(audio.routes)
    stems = build_stems(song, timeline, routes, click_sounds(loaded.sample_rate))
    total = timeline.length_frames

    def blocks() -> Iterator[Block]:
        out = np.zeros((BLOCK_FRAMES, audio.channels), np.float32)
        for offset in range(0, total, BLOCK_FRAMES):
            frames = min(BLOCK_FRAMES, total - offset)
            mix_block(stems, routes, timeline.start_frame + offset, out[:frames])
            yield out[:frames]
            if progress:
                progress(offset + frames, total)

    write_audio(out_path, blocks(), loaded.sample_rate, audio.channels, subtype)
    if trace_path is not None:
        write_trace(trace_path, timeline)
    return RenderResult(total, loaded.sample_rate, audio.channels, len(timeline.events))


def write_trace(path: Path, timeline: Timeline) -> None:
    """JSON lines, one per event, frames counted from the start of the rendered file; written atomically."""
    temporary = path.with_name(f".{path.name}.partial")
    with temporary.open("w", encoding="utf-8") as file:
        for event in timeline.events:
            file.write(json.dumps(event_record(event, timeline.sample_rate, timeline.start_frame), ensure_ascii=False) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
